"""The first screen: shown while the engine opens the database in a worker thread."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Static


class LoadingScreen(Screen):
    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(f"Opening {self.database} …", markup=False)
