"""Every check on input from outside (the CLI, the console, a library caller), in one place.

An error names the field at fault (``InvalidInput(message, field="items")``), never a CLI flag: a
front end words it for its own users. Numbers are ASCII digits only (``int()`` also takes "٣", "²"
is a digit to ``str.isdigit()``); text is normalised to NFC and refused when it holds control
characters, bidirectional overrides or isolates, or nothing visible at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable

from .errors import InvalidInput

MAX_QUANTITY = 99
MAX_LINES = 50

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ITEM_PATTERN = re.compile(r"(?P<id>[^:]+)(?::(?P<qty>[^:]*))?")
ASCII_DIGITS = re.compile(r"[0-9]+")

# Embeddings, overrides and isolates reorder what a terminal shows ("Trojan Source"); the marks
# (U+200E, U+200F, U+061C) only nudge neutral characters and are left alone.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and symbols that print as nothing: Hangul fillers, the braille blank, the Mongolian vowel separator.
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


# -- numbers --------------------------------------------------------------------------------------


def whole_number(text: str, what: str, low: int, high: int, *, field: str | None = None) -> int:
    """``text`` as an int from ``low`` to ``high``, written in ASCII digits only."""
    if not isinstance(text, str) or not ASCII_DIGITS.fullmatch(text):
        raise InvalidInput(f"{what} must be a whole number from {low} to {high} in digits 0-9 (got {text!r})", field=field)
    value = int(text)
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high} (got {text})", field=field)
    return value


# -- order items, cards, idempotency keys -------------------------------------------------------------


def parse_item(spec: str) -> tuple[str, int]:
    """Parse ``MENU_ID[:QTY]`` (a quantity of ASCII digits, 1 to 99)."""
    match = ITEM_PATTERN.fullmatch(spec.strip()) if isinstance(spec, str) else None
    if match is None or not match["id"]:
        raise InvalidInput(f"item {spec!r} is not valid: write MENU_ID or MENU_ID:QTY, e.g. margherita:2", field="items")
    qty_text = match["qty"]
    if qty_text is None:
        return match["id"], 1
    return match["id"], whole_number(qty_text, f"the quantity in item {spec!r}", 1, MAX_QUANTITY, field="items")


def check_items(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The quantity of each menu item, lines of the same item added up (at most 99 of each)."""
    items = list(items)
    if not items:
        raise InvalidInput("an order needs at least one item", field="items")
    if len(items) > MAX_LINES:
        raise InvalidInput(f"an order may have at most {MAX_LINES} items", field="items")
    quantities: dict[str, int] = {}
    for menu_item_id, quantity in items:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(f"quantity of {menu_item_id!r} must be from 1 to {MAX_QUANTITY}", field="items")
        quantities[menu_item_id] = quantities.get(menu_item_id, 0) + quantity
        if quantities[menu_item_id] > MAX_QUANTITY:
            raise InvalidInput(f"quantity of {menu_item_id!r} must be from 1 to {MAX_QUANTITY} in all", field="items")
    return quantities


def parse_card(card: str | None, default: str) -> str:
    """A card number: 12 to 19 ASCII digits, spaces and dashes allowed between them; ``default`` when not given."""
    if card is None:
        return default
    digits = card.replace(" ", "").replace("-", "") if isinstance(card, str) else ""
    if not ASCII_DIGITS.fullmatch(digits) or not 12 <= len(digits) <= 19:
        raise InvalidInput("the card number must be 12 to 19 digits 0-9 (spaces and dashes allowed)", field="card")
    return digits


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 128 or not key.isprintable() or key != key.strip():
        raise InvalidInput("an idempotency key must be 1 to 128 printable characters without surrounding spaces", field="idempotency_key")
    return key


def request_fingerprint(customer_id: str, store_id: str, quantities: dict[str, int], address: str, card: str) -> str:
    """What makes two placements "the same request", as a hash kept with the order.

    The card counts by its last four digits only: nothing from which a card number could be
    recovered is ever stored (a hash of the full number could be reversed by trying them all).
    """
    canonical = json.dumps(
        {"customer": customer_id, "store": store_id, "items": sorted(quantities.items()), "address": address, "card": card[-4:]},
        ensure_ascii=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# -- ids and text ---------------------------------------------------------------------------------


def check_id(kind: str, value: str, *, field: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"{kind} id {value!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit",
            field=field,
        )
    return value


def check_text(kind: str, value: str, max_length: int, *, field: str | None = None) -> str:
    """Free text (a name, an address, a reason) as stored: NFC, stripped, visible, without controls."""
    field = field or kind.replace(" ", "_")
    if not isinstance(value, str):
        raise InvalidInput(f"{kind} must be text", field=field)
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise InvalidInput(f"{kind} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{kind} is too long ({len(value)} characters; at most {max_length})", field=field)
    for ch in value:
        problem = _forbidden(ch)
        if problem:
            raise InvalidInput(f"{kind} must not contain {problem} (found U+{ord(ch):04X})", field=field)
    if all(_invisible(ch) for ch in value):
        raise InvalidInput(f"{kind} must contain something visible, not only blank or invisible characters", field=field)
    return value


def _forbidden(ch: str) -> str | None:
    if ch in BIDI_CONTROLS:
        return "bidirectional override or isolate characters"
    category = unicodedata.category(ch)
    if category == "Cc" or category in ("Zl", "Zp"):  # C0, DEL, C1 (U+009B is a terminal's CSI), line breaks
        return "control characters or line breaks"
    if category == "Cs":
        return "bytes that are not UTF-8 text"
    return None


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in BLANK_GLYPHS or unicodedata.category(ch) in ("Zs", "Cf", "Mn", "Me")


# -- currency -------------------------------------------------------------------------------------

# ISO 4217 currencies in use (funds, precious metals, bond units and test codes left out: nothing is priced in them).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
    LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR
    PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF
    YER ZAR ZMW ZWG ZWL""".split()
)


def check_currency(code: str) -> str:
    """An ISO 4217 currency code, upper-cased (``krw`` is ``KRW``)."""
    normalised = code.upper() if isinstance(code, str) and code.isascii() else None
    if normalised not in ISO_4217:
        raise InvalidInput(f"currency {code!r} is not an ISO 4217 currency code (e.g. KRW, USD, EUR)", field="currency")
    return normalised


MAX_PREP_MIN = 240  # four hours: a guard against typos


def check_prep_min(prep_min: int) -> int:
    """A preparation time in whole minutes, 1 to MAX_PREP_MIN."""
    if isinstance(prep_min, bool) or not isinstance(prep_min, int) or not 1 <= prep_min <= MAX_PREP_MIN:
        raise InvalidInput(f"the preparation time must be a whole number of minutes from 1 to {MAX_PREP_MIN}", field="prep_min")
    return prep_min
