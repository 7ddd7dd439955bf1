"""Printing for the CLI (one JSON document with --json, otherwise readable text and tables), and the
display conventions the CLI and the console share: status glyphs and money."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
    "PICKED_UP": "➜",  # a store's ticket a rider took
    "DONE": "✔",  # ... and delivered
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


@dataclass(frozen=True)
class Column:
    """One column of a human table.

    Ids, statuses, amounts and times are never cut: the column is as wide as its widest cell. Free
    text (``wrap=True``: addresses, messages, reasons) wraps into the width that is left. On a narrow
    console the columns with ``drop`` > 0 are hidden, the highest number first, until the rest fit;
    the table's caption names what was hidden."""

    key: str
    header: str
    wrap: bool = False
    drop: int = 0


# Columns are hidden until each wrapped column has this much room (or its widest cell, if less).
WRAP_ROOM = 16
# A boxed table spends one character on its left edge, then padding (2) and a border (1) per column.
EDGE, PER_COLUMN = 1, 3


def _column(spec: Column | tuple[str, str]) -> Column:
    return spec if isinstance(spec, Column) else Column(*spec)


def _widths(columns: Sequence[Column], cells: Sequence[Sequence[str]]) -> tuple[list[int], list[int]]:
    """Per column: the width it asks for (its widest cell; for wrapped text at most WRAP_ROOM) and the
    least it can take (the same, but for wrapped text its longest word)."""
    from rich.cells import cell_len

    wanted, least = [], []
    for i, column in enumerate(columns):
        header = cell_len(column.header)
        widest = max([header] + [cell_len(row[i]) for row in cells])
        if column.wrap:
            longest_word = max([1] + [cell_len(word) for row in cells for word in row[i].split()])
            wanted.append(min(widest, max(WRAP_ROOM, header)))
            least.append(min(widest, max(longest_word, header)))
        else:
            wanted.append(widest)
            least.append(widest)
    return wanted, least


def fit_columns(columns: Sequence[Column], cells: Sequence[Sequence[str]], width: int) -> list[int]:
    """The indexes of ``columns`` to show on a console ``width`` characters wide: every column whose
    ``drop`` is 0, and as many of the others as fit, hiding the highest ``drop`` first."""
    wanted, _ = _widths(columns, cells)
    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    while droppable and EDGE + sum(wanted[i] + PER_COLUMN for i in shown) > width:
        shown.remove(droppable.pop(0))
    return shown


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column | tuple[str, str]], title: str | None = None, empty: str = "nothing to show") -> None:
    """A table of ``rows``; ``columns`` are Column specs or (key, header) pairs (never cut, never hidden)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    specs = [_column(c) for c in columns]
    cells = [[_cell(row.get(c.key)) for c in specs] for row in rows]
    shown = fit_columns(specs, cells, console.width)
    wanted, least = _widths(specs, cells)
    # Pinning unwrapped columns to their widest cell keeps ids and statuses whole; on a console too
    # narrow even for that, rich shares the width out and they fold onto a second line instead.
    pin = EDGE + sum(least[i] + PER_COLUMN for i in shown) <= console.width
    hidden = [specs[i].header for i in range(len(specs)) if i not in shown]
    caption = f"not shown at this width: {', '.join(hidden)} (--json has every field)" if hidden else None
    table = Table(title=title, caption=caption, show_lines=False)
    for i in shown:
        if specs[i].wrap:
            table.add_column(specs[i].header, overflow="fold")
        else:
            table.add_column(specs[i].header, no_wrap=pin, overflow="fold", min_width=wanted[i] if pin else None)
    for row in cells:
        table.add_row(*[Text(row[i]) for i in shown])  # Text: a "[" in someone's address is not markup
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
