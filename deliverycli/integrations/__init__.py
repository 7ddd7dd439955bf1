"""Adapters that do network I/O for the engine and around it: the payment provider over HTTP (the
service and the engine's client to it), the relay of the event log to NATS JetStream, and the
webhook sender.

The engine imports none of these at module level (the payment client and the webhook sender are
loaded when configured or asked for); each pulls in its own optional extra (``server``, ``nats``,
``webhooks``), and no plain CLI path imports them.
"""


def require_extra(module: str, extra: str) -> None:
    """Fail clearly (exit 2) when the optional extra a command needs is not installed."""
    import importlib.util

    from ..engine.errors import InvalidInput

    if importlib.util.find_spec(module) is None:
        raise InvalidInput(f"this command needs the {extra!r} extra: pip install 'deliverycli[{extra}]'")
