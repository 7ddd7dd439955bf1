"""Textual screens of the console, one per file (arrives with the TUI)."""
