"""Printing for the CLI (one JSON document with --json, otherwise readable text and tables), and the
display conventions the CLI and the console share: status glyphs and money."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# A glyph per order status, so a status reads the same without colour (NO_COLOR, a monochrome terminal).
GLYPHS = {
    "PENDING_PAYMENT": "…",
    "PAID": "$",
    "COOKING": "♨",
    "READY_FOR_PICKUP": "▣",
    "DELIVERING": "➜",
    "DELIVERED": "⌂",
    "CONFIRMED": "✔",
    "REJECTED": "✘",
    "CANCEL_PENDING": "⧗",
    "CANCELLED": "⊘",
}

# Digits after the decimal point per currency; KRW and JPY have none.
MINOR_DIGITS = {"KRW": 0, "JPY": 0, "USD": 2, "EUR": 2, "GBP": 2}


def money(amount: int, currency: str = "KRW") -> str:
    digits = MINOR_DIGITS.get(currency, 2)
    if digits == 0:
        return f"{amount:,} {currency}"
    return f"{amount / 10**digits:,.{digits}f} {currency}"


def jsonable(data: Any) -> Any:
    """The engine's typed read models (and lists of them) as plain JSON data; anything else as it is."""
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json")
    if isinstance(data, list) and data and hasattr(data[0], "model_dump"):
        return [item.model_dump(mode="json") for item in data]
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(data), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str | None = None, empty: str = "nothing to show") -> None:
    """A table of ``rows`` with ``columns`` as (key, header) pairs."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, show_lines=False)
    for _, header in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*[_cell(row.get(key)) for key, _ in columns])
    console.print(table)


def print_fields(data: dict[str, Any], keys: Iterable[tuple[str, str]], title: str | None = None) -> None:
    from rich.console import Console

    console = Console()
    if title:
        console.print(f"[bold]{title}[/bold]")
    for key, label in keys:
        console.print(f"  {label:<12} {_cell(data.get(key))}", highlight=False, markup=False)


def print_text(text: str) -> None:
    from rich.console import Console

    Console().print(text, highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit(json_mode: bool, data: Any, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or run ``human`` to print it for a person."""
    if json_mode:
        print_json(data)
    else:
        human()
