"""The scripted CLI (SPEC §8): a thin Typer layer over the engine, one sub-app per command group.

Errors are mapped to exit codes in exactly one place, ``main``: 2 bad usage or input, 3 not found,
4 conflict, 5 actor not permitted, 6 payment declined or unavailable. No traceback for any of them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from .output import emit, print_json

if TYPE_CHECKING:
    from .engine.bootstrap import Engine
    from .settings import Settings

app = typer.Typer(
    name="deliverycli",
    help="Terminal operations console for food ordering and delivery.",
    add_completion=True,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's Rich help imports rich.markdown (markdown-it) and rich.traceback first,
    # which doubles what `--help` costs (about 710 M instructions against 365 M) and keeps it over 0.2 s.
    rich_markup_mode=None,
)


@dataclass
class CliContext:
    """What every command gets: the global options and, on first use, the engine."""

    db: str | None = None
    json: bool = False
    _engine: Engine | None = field(default=None, repr=False)
    _caught_up: bool = field(default=False, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        from .settings import load_settings

        return load_settings(db=self.db, **overrides)

    def engine(self, *, catch_up: bool = True) -> Engine:
        """The engine, opened on first use. A command that writes catches up first (finishing what
        a crashed process left, SPEC §6). A read-only query passes ``catch_up=False``: it shows the
        views as they are, as `doctor` does, and so never builds the engine's command side."""
        if self._engine is None:
            from .engine.bootstrap import Engine

            self._engine = Engine.open(self.settings(), catch_up=catch_up)
            self._caught_up = catch_up
        elif catch_up and not self._caught_up:
            self._engine.catch_up()
            self._caught_up = True
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def ctx_obj(ctx: typer.Context) -> CliContext:
    return ctx.find_root().obj


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", metavar="URL_OR_PATH", help="Database: a SQLite file path or a postgresql:// URL. Without it: DELIVERYCLI_DB, the settings file, or a file in your data folder.", show_default=False),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (one object, an array for lists, JSON lines for streams)."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:  # `main` answers a bare --version before Typer runs; this is --version beside a command
        print_version(json_output)
        raise typer.Exit()
    ctx.obj = CliContext(db=db, json=json_output)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty() and not json_output:  # a person at a terminal: open the console
            from .commands.tui import launch

            launch(ctx.obj)
        else:
            typer.echo(ctx.get_help())


def print_version(json_mode: bool) -> None:
    """The installed version, as text or (with --json) one JSON object."""
    from . import __version__

    emit(json_mode, {"id": "deliverycli", "version": __version__}, lambda: typer.echo(f"deliverycli {__version__}"))


def asks_for_version(args: list[str]) -> bool:
    """True for `--version` with no command and no --help (global options may come along)."""
    return "--version" in args and "--help" not in args and command_word(args) is None


# The shells Typer writes completion scripts for; any other (sh, dash, tcsh, ...) it rejects with exit 1.
COMPLETION_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def completion_shell_problem(args: list[str]) -> str | None:
    """For --install-completion / --show-completion: why no completion can be given here, or None.
    Typer detects the shell from the parent processes and would answer an unknown one with exit 1."""
    if "--install-completion" not in args and "--show-completion" not in args:
        return None
    import shellingham

    try:
        shell, _ = shellingham.detect_shell()
    except shellingham.ShellDetectionFailure:
        shell = None
    if shell in COMPLETION_SHELLS:
        return None
    found = f"this runs under {shell}" if shell else "no shell was found among the parent processes"
    return f"shell completion is available for {', '.join(COMPLETION_SHELLS)}, but {found}; run the command from one of those shells"


# What help shows for an option's value when its declaration names no metavar (click's words).
PLAIN_METAVARS = {str: "TEXT", int: "INTEGER", float: "NUMBER"}


class PlainArgument(typer.core.TyperArgument):
    """An argument whose help shows its name (``ORDER``) and no Python type (``<str>``) beside it."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None


def pass_text_through(command: Any) -> None:
    """Let this Typer hand text parameters (``ORDER``, ``--db``) and flags over as parsed.

    It otherwise converts every value but a given flag through a pydantic TypeAdapter, built on
    first use even for an option left out: importing and building those costs a cold start 0.18 of
    what the stack itself takes to import (benchmarks/bench_cli_cold_start.py). A command-line string
    needs no conversion to ``str``, and a flag without an environment variable is only ever a bool
    or unset. Typer's own pass-through coercion is used, so values and errors stay Typer's; numbers
    and lists keep its TypeAdapters, and so does everything if a Typer release drops this class."""
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another Typer: its own coercion is correct, only slower
        return
    for param in [*command.params, command.get_help_option(typer.Context(command))]:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue
        plain_text = descriptor.annotation is str and param.nargs == 1 and not param.multiple
        plain_flag = descriptor.annotation is bool and not param.envvar
        unbounded = getattr(param, "min", None) is None and getattr(param, "max", None) is None
        if (plain_text or plain_flag) and unbounded:
            try:
                param._runtime_param = PassThroughRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
            except (AttributeError, TypeError):  # pragma: no cover - a Typer that builds these differently
                return
    for sub in getattr(command, "commands", {}).values():
        pass_text_through(sub)


def plain_metavars(command: Any) -> None:
    """Make help show plain metavars (``TEXT``, ``ORDER``, ``MENU_ID[:QTY]``), never Python types.

    This Typer prints a parameter's Python type beside it (``--json <bool>``, ``--item <list[str]>``)
    unless the parameter has a metavar: an option gets its declared metavar or a plain word, a flag
    (``--help`` too) shows nothing, and an argument shows only its name, which is its metavar."""
    params = [*command.params, command.get_help_option(typer.Context(command))]
    for param in params:
        if isinstance(param, typer.core.TyperArgument):
            param.__class__ = PlainArgument
        elif param is not None and param.metavar is None:
            annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            param.metavar = "" if param.is_flag or param.count else PLAIN_METAVARS.get(annotation, "VALUE")
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


def _register(args: list[str] | None = None) -> None:
    """Register the commands: all of them, or with ``args`` just the group the line runs."""
    from .commands import register

    register(app, command_word(args) if args is not None else None)


GLOBAL_FLAGS = ("--json",)
GLOBAL_OPTIONS = ("--db",)


def hoist_global_options(argv: list[str]) -> list[str]:
    """Let --json and --db appear anywhere on the line, as scripts tend to write them."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS:
            front.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        elif any(arg.startswith(o + "=") for o in GLOBAL_OPTIONS):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def command_word(args: list[str]) -> str | None:
    """The first word of ``args`` that is not an option or a global option's value: the command."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        if arg in GLOBAL_OPTIONS:
            i += 2
            continue
        if not arg.startswith("-"):
            return arg
        i += 1
    return None


def fail(json_mode: bool, code: str, message: str, exit_code: int) -> None:
    if json_mode:
        print_json({"error": {"code": code, "message": message}})
    else:
        sys.stderr.write(f"error: {message}\n")
    raise SystemExit(exit_code)


def main(argv: list[str] | None = None) -> None:
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    json_mode = "--json" in args
    if asks_for_version(args):  # answered without building the commands: Typer's parameter conversion loads pydantic
        print_version(json_mode)
        return
    problem = completion_shell_problem(args)
    if problem:
        fail(json_mode, "usage", problem, 2)
    from .engine.errors import DeliveryError

    _register(args)
    command = typer.main.get_command(app)
    plain_metavars(command)
    pass_text_through(command)
    try:
        exit_code = command.main(args=args, prog_name="deliverycli", standalone_mode=False)
    except DeliveryError as exc:
        fail(json_mode, exc.code, exc.message, exc.exit_code)
    except typer.TyperException as exc:  # bad usage: unknown option, missing argument, bad value
        message = exc.format_message().strip()
        if not message or message.startswith("Usage:"):  # a bare group: its help was the answer
            raise SystemExit(exc.exit_code) from None
        fail(json_mode, "usage", message, exc.exit_code)
    except typer.Abort:
        fail(json_mode, "aborted", "aborted", 130)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except BrokenPipeError:
        os._exit(0)  # the reader went away (e.g. `| head`): not an error
    except Exception as exc:  # noqa: BLE001 - a bug: say so briefly; DELIVERYCLI_DEBUG=1 shows the traceback
        if os.environ.get("DELIVERYCLI_DEBUG"):
            raise
        fail(json_mode, "internal", f"internal error: {type(exc).__name__}: {exc} (set DELIVERYCLI_DEBUG=1 for details)", 1)
    if isinstance(exit_code, int) and exit_code:  # typer.Exit(code) returns here without standalone mode
        raise SystemExit(exit_code)
