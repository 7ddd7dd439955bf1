"""The console's table: a DataTable that sizes its columns before it draws, sorts (click a header,
or `o`) and searches (`/`) like k9s, and says what to do when it is empty.

Why explicit widths: a DataTable with auto-width columns measures new rows only when it next goes
idle, but the screen may paint it before that; the lines painted then are cached under a key that
does not hold the column widths, so the table can keep header-width columns ("Caes 12,00") until
something else invalidates the cache. Columns sized here, from the rows, are right from the first
paint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, Sequence[Cell]]  # (row key, cells)

SORT_MARKS = {False: " ▲", True: " ▼"}
_NUMBER = re.compile(r"(\d[\d,]*)")
_LEADING_GLYPH = re.compile(r"^[^\w\s]+\s")  # "♨ COOKING" sorts as "COOKING"


NARROW = 80  # the designed width; below it secondary columns are dropped


@dataclass(frozen=True)
class Column:
    """A column: its header, its key, and whether it may go when the terminal is narrow."""

    label: str
    key: str
    secondary: bool = False


def plain(cell: Cell) -> str:
    """A cell's text without styles."""
    return cell.plain if isinstance(cell, Text) else str(cell)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key reading numbers as numbers: ``9,000 KRW`` before ``12,000 KRW``, ``ord-9`` before ``ord-10``."""
    parts = _NUMBER.split(_LEADING_GLYPH.sub("", text).casefold())
    return tuple(int(part.replace(",", "")) if i % 2 else part for i, part in enumerate(parts))


class ConsoleTable(DataTable):
    """A DataTable of rows given all at once with :meth:`show`.

    ``order_column`` names the column holding the order id (``None``: the row key is the order id;
    ``-1``: the rows are not orders). ``empty`` is shown under the header when there are no rows.
    """

    DEFAULT_CSS = """
    ConsoleTable.-empty {
        min-height: 3;
    }
    """

    class SearchRequested(Message):
        """The reader pressed `/` on this table."""

        def __init__(self, table: ConsoleTable) -> None:
            super().__init__()
            self.table = table

    def __init__(self, *columns: Column | tuple[str, str] | str, empty: str = "", order_column: int | None = -1, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self.column_specs = [c if isinstance(c, Column) else Column(*c) if isinstance(c, tuple) else Column(c, c.lower()) for c in columns]
        self.empty_text = empty
        self.order_column = order_column
        self.source: list[Row] = []  # every row given, in the engine's order
        self.shown: list[Row] | None = None  # what the table holds now (sorted, searched)
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.search = ""
        self._widths: list[int] = []
        self._visible: list[int] = []  # indexes of the columns shown (secondary ones go when narrow)

    def on_mount(self) -> None:
        self._redraw()  # the header, before any row arrives

    # -- data ---------------------------------------------------------------------------------

    def show(self, rows: Sequence[Row]) -> bool:
        """Show ``rows`` (key, cells), keeping the cursor on its row. Rows equal to the ones shown
        change nothing, so a refresh that found nothing new costs nothing."""
        self.source = list(rows)
        return self._redraw()

    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        """Sort by ``column`` (None: the engine's order)."""
        self.sort_column, self.sort_reverse = column, reverse
        self._redraw()

    def sort_next(self) -> None:
        """One step through: first column ascending, descending, the next column ..., then the
        engine's order again."""
        if self.sort_column is None:
            self.sort_by(0)
        elif not self.sort_reverse:
            self.sort_by(self.sort_column, reverse=True)
        elif self.sort_column + 1 < len(self.column_specs):
            self.sort_by(self.sort_column + 1)
        else:
            self.sort_by(None)

    def set_search(self, text: str) -> None:
        """Show only rows whose text contains ``text`` (any case); empty shows all."""
        self.search = text.strip()
        self._redraw()
        self.refresh()  # the empty-table hint may have changed

    def visible_rows(self) -> list[Row]:
        rows = self.source
        if self.search:
            needle = self.search.casefold()
            rows = [r for r in rows if needle in r[0].casefold() or any(needle in plain(c).casefold() for c in r[1])]
        if self.sort_column is not None:
            column = self.sort_column
            rows = sorted(rows, key=lambda r: natural_key(plain(r[1][column])) if column < len(r[1]) else (), reverse=self.sort_reverse)
        return rows

    def _redraw(self) -> bool:
        rows = self.visible_rows()
        narrow = self.is_mounted and self.app.size.width < NARROW
        visible = [i for i, c in enumerate(self.column_specs) if not (narrow and c.secondary)]
        labels = [self.column_specs[i].label + (SORT_MARKS[self.sort_reverse] if i == self.sort_column else "") for i in visible]
        widths = [max([cell_len(label), *(cell_len(plain(cells[i])) for _, cells in self.source if i < len(cells))]) for i, label in zip(visible, labels)]
        if rows == self.shown and widths == self._widths and visible == self._visible and self.columns:
            return False
        keep = self.highlighted_key()
        if widths != self._widths or visible != self._visible or [str(c.label) for c in self.columns.values()] != labels:
            self.clear(columns=True)
            for i, label, width in zip(visible, labels, widths):
                self.add_column(label, key=self.column_specs[i].key, width=width)
            self._widths, self._visible = widths, visible
        else:
            self.clear()
        for key, cells in rows:
            self.add_row(*(cells[i] for i in visible if i < len(cells)), key=key)
        self.shown = rows
        self.set_class(not rows, "-empty")
        self.select_key(keep)
        return True

    # -- the cursor ---------------------------------------------------------------------------

    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if self.row_count == 0 or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def select_key(self, key: str | None) -> bool:
        """Put the cursor on the row with ``key``; False if there is none."""
        if key is None or key not in {k for k, _ in self.shown or ()}:
            return False
        self.move_cursor(row=self.get_row_index(key), animate=False)
        return True

    def highlighted_order(self) -> str | None:
        """The order id of the highlighted row (None if there is none or the rows are not orders)."""
        key = self.highlighted_key()
        if key is None or self.order_column == -1:
            return None
        if self.order_column is None:
            return key
        return next(plain(cells[self.order_column]) for k, cells in self.source if k == key)

    # -- sorting by a click, searching, and the empty hint ------------------------------------

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = self._visible[event.column_index]
        self.sort_by(column, reverse=not self.sort_reverse if column == self.sort_column else False)

    def on_resize(self) -> None:
        self._redraw()  # narrower or wider than designed: secondary columns go or come back

    def empty_hint(self) -> str:
        if self.source and self.search:
            return f"Nothing matches “{self.search}”: / changes the search, esc clears it."
        return self.empty_text

    def render_line(self, y: int) -> Strip:
        header = self.header_height if self.show_header else 0
        if self.row_count or y != header or not self.empty_hint():
            return super().render_line(y)
        width, base = self.size.width, self.rich_style
        return Strip([Segment(" " + self.empty_hint(), base + Style(dim=True, italic=True))]).crop(0, width).adjust_cell_length(width, base)
