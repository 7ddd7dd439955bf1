"""How the console writes statuses, money, times and ages: text plus a glyph, never colour alone."""

from __future__ import annotations

from datetime import datetime

from ..output import GLYPHS
from ..output import money as money_text


# Kitchen tickets and deliveries have their own statuses; each borrows the glyph of the order
# status it corresponds to, so one glyph means one thing everywhere in the console.
TICKET_GLYPHS = {"NEW": "✚", "COOKING": GLYPHS["COOKING"], "READY": GLYPHS["READY_FOR_PICKUP"], "CANCELLED": GLYPHS["CANCELLED"], "REJECTED": GLYPHS["REJECTED"]}
DELIVERY_GLYPHS = {"AVAILABLE": GLYPHS["READY_FOR_PICKUP"], "PICKED_UP": GLYPHS["DELIVERING"], "COMPLETED": GLYPHS["DELIVERED"]}

MASKED_TIME = "--:--:--"


def status_text(status: str | None) -> str:
    """An order status as glyph plus text, e.g. ``♨ COOKING``."""
    if not status:
        return "-"
    glyph = GLYPHS.get(status) or TICKET_GLYPHS.get(status) or DELIVERY_GLYPHS.get(status)
    return f"{glyph} {status}" if glyph else status


def money(amount: int | None, currency: str = "KRW") -> str:
    return "-" if amount is None else money_text(amount, currency)


def clock_time(value: str | datetime | None, masked: bool = False) -> str:
    """A timestamp as local ``HH:MM:SS`` (masked in snapshot tests, where times vary run to run)."""
    if value is None:
        return "-"
    if masked:
        return MASKED_TIME
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone().strftime("%H:%M:%S")


def hour_minute(value: str | datetime | None, masked: bool = False) -> str:
    """An estimate as local ``HH:MM`` ("ready around 12:40"), masked in snapshot tests."""
    if value is None:
        return "-"
    return MASKED_TIME[:5] if masked else clock_time(value)[:5]


def age(seconds: float) -> str:
    """A duration for people: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def items_text(items: list[dict]) -> str:
    """Order lines as ``2× Margherita pizza, 1× Cola``."""
    return ", ".join(f"{i['quantity']}× {i['name']}" for i in items)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def page_text(noun: str, first: int, count: int, total: int) -> str:
    """Where a page is in the whole: ``Orders 1–50 of 1,234``."""
    if count == 0:
        return f"{noun}: none of {total:,}" if total else f"{noun}: none"
    span = f"{noun} {first:,}–{first + count - 1:,}"
    return f"{span} of {total:,}"
