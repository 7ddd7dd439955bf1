"""The domain engine: ordering, payment, store, delivery, status view and notifications on one event bus.

Imports no UI library (textual, typer, rich); the CLI and the TUI are thin layers over ``Engine``.
"""
