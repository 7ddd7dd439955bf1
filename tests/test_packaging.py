"""Ready for PyPI: `python -m build` makes an sdist and a wheel that `twine check --strict` passes,
both carry the LICENSE, the metadata says what PyPI shows (licence, classifiers, keywords, project
URLs, bounded dependencies), and the README's pictures on PyPI are absolute links to PNGs that exist.

The build runs without network (`--no-isolation`: hatchling and the readme plugin are in the dev
extra); `build` still refuses to run if the build requirements in pyproject.toml are missing."""

from __future__ import annotations

import email.parser
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import deliverycli

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NAME_VERSION = f"deliverycli-{deliverycli.__version__}"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        return email.parser.Parser().parsestr(zf.read(f"{NAME_VERSION}.dist-info/METADATA").decode())


def test_twine_check_passes(dist: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(dist["wheel"]), str(dist["sdist"])], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_license_ships_in_the_wheel_and_the_sdist(dist: dict[str, Path]) -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    with zipfile.ZipFile(dist["wheel"]) as zf:
        assert zf.read(f"{NAME_VERSION}.dist-info/licenses/LICENSE").decode() == license_text
    with tarfile.open(dist["sdist"]) as tf:
        member = tf.extractfile(f"{NAME_VERSION}/LICENSE")
        assert member is not None and member.read().decode() == license_text
    meta = metadata(dist["wheel"])
    assert meta["License-Expression"] == PYPROJECT["project"]["license"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_metadata_says_what_pypi_shows(dist: dict[str, Path]) -> None:
    meta = metadata(dist["wheel"])
    assert meta["Version"] == deliverycli.__version__
    classifiers = meta.get_all("Classifier")
    assert classifiers == PYPROJECT["project"]["classifiers"] and "Programming Language :: Python :: 3.11" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the expression says it
    assert set(meta["Keywords"].split(",")) == set(PYPROJECT["project"]["keywords"])
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls == PYPROJECT["project"]["urls"] and urls["Source"].startswith("https://")
    assert meta["Summary"] and meta["Requires-Python"] == ">=3.11"


def test_every_dependency_has_an_upper_bound(dist: dict[str, Path]) -> None:
    required = [Requirement(r) for r in metadata(dist["wheel"]).get_all("Requires-Dist") if "extra ==" not in r]
    assert {r.name for r in required} >= {"textual", "typer", "sqlalchemy", "pydantic"}
    unbounded = [str(r) for r in required if not any(s.operator in ("<", "<=", "~=", "==") for s in r.specifier)]
    assert not unbounded, f"no upper bound: {unbounded}"
    (textual,) = [r for r in required if r.name == "textual"]
    assert not textual.specifier.contains("9.0") and textual.specifier.contains("8.9")


def test_readme_pictures_on_pypi_are_absolute_links_to_pngs_that_exist(dist: dict[str, Path]) -> None:
    """PyPI shows the long description without the repository around it: a relative picture does not
    load there, and it shows no SVG. Each picture must be a PNG at an absolute address in the
    repository named in [project.urls], and the file must exist at that path (in git and the sdist)."""
    long_description = metadata(dist["wheel"]).get_payload()
    source = PYPROJECT["project"]["urls"]["Source"]
    raw_prefix = source.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", long_description)
    assert len(pictures) >= 5, pictures
    links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", long_description)
    relative = [u for u in pictures + links if not re.match(r"(https?:|#|mailto:)", u)]
    assert not relative, f"relative links do not resolve on PyPI: {relative}"
    with tarfile.open(dist["sdist"]) as tf:
        shipped = set(tf.getnames())
    for url in pictures:
        assert url.startswith(raw_prefix) and url.endswith(".png"), url
        path = url[len(raw_prefix):]
        assert (ROOT / path).is_file(), f"{path} is linked from the README but missing"
        assert f"{NAME_VERSION}/{path}" in shipped
        assert (ROOT / path).with_suffix(".svg").is_file()  # the console's own screenshot it was drawn from
    # the README itself keeps relative links, which work in a clone and on the repository's own page
    assert "](docs/screenshots/store.png)" in (ROOT / "README.md").read_text()
