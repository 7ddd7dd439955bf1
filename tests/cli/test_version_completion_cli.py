"""`--version` and shell completion, through real processes: the CLI itself, and bash sourcing the
completion script that `--install-completion` writes."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deliverycli

BASH = shutil.which("bash")


def test_version_prints_the_installed_version(cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "x.db"
    result = cli("--version", db=str(missing))
    assert result.code == 0, result.stderr
    assert result.stdout == f"deliverycli {deliverycli.__version__}\n"
    # one source of truth: the package metadata pip installed says the same
    assert deliverycli.__version__ == importlib.metadata.version("deliverycli")
    assert not missing.parent.exists()  # --version opens no database


def test_version_as_json(cli) -> None:
    result = cli("--version", "--json")
    assert result.code == 0, result.stderr
    assert result.json == {"id": "deliverycli", "version": deliverycli.__version__}


def test_version_is_listed_in_help(cli) -> None:
    result = cli("--help")
    assert result.code == 0, result.stderr
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in result.stdout


def _shim(folder: Path) -> Path:
    """A `deliverycli` on PATH that runs this checkout with this interpreter (the completion script calls it by name)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "deliverycli"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m deliverycli "$@"\n')
    script.chmod(0o755)
    return folder


def _in_shell(shell: str, line: str, home: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``line`` with ``shell`` as the nearest parent process (`; exit $?` keeps the shell from
    exec-ing the command in its place, so Typer's shell detection sees it)."""
    env = os.environ | {"HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    return subprocess.run([shell, "-c", f"{line}; exit $?"], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completion_installs_and_completes(tmp_path: Path) -> None:
    home, bin_dir = tmp_path / "home", _shim(tmp_path / "bin")
    home.mkdir()
    installed = _in_shell(BASH, "deliverycli --install-completion", home, bin_dir)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    script = home / ".bash_completions" / "deliverycli.sh"
    assert script.is_file(), installed.stdout
    assert f"source '{script}'" in (home / ".bashrc").read_text()

    # bash sources what was installed and asks for completions as it would at a prompt
    def complete(*words: str) -> list[str]:
        line = (
            f"source '{script}'; COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; "
            '_deliverycli_completion deliverycli; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = _in_shell(BASH, line, home, bin_dir)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout.split()

    assert complete("deliverycli", "ord") == ["orders"]
    assert complete("deliverycli", "orders", "pl") == ["place"]
    assert "--customer" in complete("deliverycli", "orders", "place", "--cu")
    assert set(complete("deliverycli", "deliveries", "")) >= {"list", "pickup", "complete"}


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_show_completion_prints_the_script(tmp_path: Path) -> None:
    home, bin_dir = tmp_path / "home", _shim(tmp_path / "bin")
    home.mkdir()
    shown = _in_shell(BASH, "deliverycli --show-completion", home, bin_dir)
    assert shown.returncode == 0, shown.stderr
    assert "_DELIVERYCLI_COMPLETE=complete_bash" in shown.stdout
    assert "complete -o default -F _deliverycli_completion deliverycli" in shown.stdout
    assert not any(home.iterdir())  # showing installs nothing


@pytest.mark.parametrize("option", ["--install-completion", "--show-completion"])
def test_completion_under_an_unsupported_shell_is_bad_usage(tmp_path: Path, option: str) -> None:
    """/bin/sh has no completion support in Typer: exit 2 with a clear message, nothing written."""
    home, bin_dir = tmp_path / "home", _shim(tmp_path / "bin")
    home.mkdir()
    done = _in_shell("/bin/sh", f"deliverycli {option}", home, bin_dir)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "shell completion is available for bash" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(home.iterdir())
