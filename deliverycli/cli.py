"""The scripted CLI (SPEC §8): a thin Typer layer over the engine, one sub-app per command group.

Errors are mapped to exit codes in exactly one place, ``main``: 2 bad usage or input, 3 not found,
4 conflict, 5 actor not permitted, 6 payment declined or unavailable, 7 database unavailable. No
traceback for any of them; 1 is left for bugs.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from .output import emit, print_json

if TYPE_CHECKING:
    from .engine.bootstrap import Engine
    from .engine.errors import DeliveryError
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


@contextmanager
def until_interrupted() -> Iterator[threading.Event]:
    """For a loop that runs until Ctrl+C: an event set by SIGINT or SIGTERM, for the loop to check
    between rounds (``while not stop.wait(interval)``), so it ends cleanly and never mid-line.

    The handlers are installed here, not left to Python's: a process started with SIGINT ignored
    (the children of a background job, say `make test &` from a script) would otherwise ignore it.
    """
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
            from .console import launch

            launch(ctx.obj.settings)
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


# -- input checks that belong to the command line ------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_ASCII_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def whole_number(min: int = INT64_MIN, max: int = INT64_MAX) -> Callable[[Any], int]:
    """A parser for an integer option: ASCII digits only (``int()`` takes "٣", "１" and "1_0"), within
    64 bits (past them the database's integers overflow) and the given bounds. Use as
    ``typer.Option(..., parser=whole_number(min=0))``."""

    def parse(value: Any) -> int:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):  # a default
            return value
        if not isinstance(value, str) or not _ASCII_INTEGER.fullmatch(value):
            raise typer.BadParameter(f"{value!r} is not a whole number (digits 0-9).")
        number = int(value)
        if not min <= number <= max:
            raise typer.BadParameter(f"{value} is not in the range {min}<=x<={max}.")
        return number

    return parse


def decimal(min: float, max: float) -> Callable[[Any], float]:
    """A parser for a number option: written in ASCII (``float()`` takes "１.５", "nan" and "inf"), within bounds."""

    def parse(value: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # the default
            return float(value)
        if not isinstance(value, str) or not _ASCII_DECIMAL.fullmatch(value):
            raise typer.BadParameter(f"{value!r} is not a number (digits 0-9, e.g. 0.25).")
        number = float(value)
        if not min <= number <= max:
            raise typer.BadParameter(f"{value} is not in the range {min:g}<=x<={max:g}.")
        return number

    return parse


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, as Python's argv holds them


def check_argv(args: list[str]) -> None:
    """Refuse an argument holding bytes that are not UTF-8 (say, Latin-1 "Stra\\xdfe")."""
    from .engine.errors import InvalidInput

    for arg in args:
        if _UNDECODABLE.search(arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise InvalidInput(f"argument {shown!r} is not valid UTF-8 text (the bad bytes are shown as \ufffd); check the terminal's encoding")


# -- errors -------------------------------------------------------------------------------------

# The engine names the input at fault by its field; the command line by its option.
FIELD_OPTIONS = {
    "items": "--item", "card": "--card", "idempotency_key": "--idempotency-key", "address": "--address", "name": "--name",
    "reason": "--reason", "vehicle": "--vehicle", "id": "--id", "store": "--store", "price": "--price", "db": "--db",
    "role": "--role", "actor_id": "--as",
    # simulate's
    "orders": "--orders", "stores": "--stores", "riders": "--riders", "cancel_rate": "--cancel-rate", "reject_rate": "--reject-rate",
    "payment_failure_rate": "--payment-failure-rate", "payment_latency_ms": "--payment-latency-ms",
}


def describe_error(exc: DeliveryError) -> str:
    """An engine error in the command line's words: the option at fault and what to run about it."""
    from .engine.errors import REMEDY_INIT, REMEDY_RETRY_DEAD_LETTERS, REMEDY_UPGRADE, NotFound

    message = exc.message
    option = FIELD_OPTIONS.get(exc.field or "")
    if option and option not in message:
        message = f"{option}: {message}"
    if exc.remedy == REMEDY_INIT:
        message += "; run `deliverycli init` (or `init --demo`) first" if isinstance(exc, NotFound) else "; run `deliverycli init` to upgrade it in place"
    elif exc.remedy == REMEDY_UPGRADE:
        message += "; upgrade deliverycli to a version that knows this schema (pip install --upgrade deliverycli)"
    elif exc.remedy == REMEDY_RETRY_DEAD_LETTERS:
        message += " (`deliverycli deadletters list`, then `deliverycli deadletters retry ID`)"
    return message


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

    try:
        check_argv(args)
    except DeliveryError as exc:
        fail(json_mode, exc.code, describe_error(exc), exc.exit_code)
    _register(args)
    command = typer.main.get_command(app)
    plain_metavars(command)
    pass_text_through(command)
    try:
        exit_code = command.main(args=args, prog_name="deliverycli", standalone_mode=False)
    except DeliveryError as exc:
        fail(json_mode, exc.code, describe_error(exc), exc.exit_code)
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
        from .engine.errors import unavailable_database

        unavailable = unavailable_database(exc)  # a database error not worded on its way here: not a bug
        if unavailable is not None:
            fail(json_mode, unavailable.code, describe_error(unavailable), unavailable.exit_code)
        if os.environ.get("DELIVERYCLI_DEBUG"):
            raise
        fail(json_mode, "internal", f"internal error: {type(exc).__name__}: {exc} (set DELIVERYCLI_DEBUG=1 for details)", 1)
    if isinstance(exit_code, int) and exit_code:  # typer.Exit(code) returns here without standalone mode
        raise SystemExit(exit_code)
