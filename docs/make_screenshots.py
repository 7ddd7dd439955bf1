"""Make the README's screenshots of the console with its own screenshot feature (App.save_screenshot).

    .venv/bin/python docs/make_screenshots.py              # writes docs/screenshots/*.svg and *.png
    .venv/bin/python docs/make_screenshots.py --png-only   # only a PNG again for each SVG there

Each view runs headless at 100x30 on a fresh database holding the snapshot tests' ten orders
(tests/tui/scenario.py); the store owner's view also shows a new order arriving from another
process, with its toast and its mark.

Each SVG also gets a PNG beside it, for pages that show no SVG (PyPI; the README links the PNGs).
It is drawn with cairosvg (`pip install -e '.[docs]'`; it needs the system's cairo library).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
SIZE = (100, 30)
sys.path.insert(0, str(ROOT))

from tests.tui.conftest import on_screen, press, rows, settle, wait_until  # noqa: E402
from tests.tui.scenario import seed, snapshot_time  # noqa: E402


async def customer(pilot: Any) -> None:
    await press(pilot, "down")
    await wait_until(pilot, lambda: rows(pilot.app, "menu") and rows(pilot.app, "menu")[0][0] == "Cola")
    await press(pilot, "tab")
    await wait_until(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "menu")
    await press(pilot, "down", "down", "plus", "plus", "up", "up", "plus")


async def customer_orders(pilot: Any) -> None:
    await press(pilot, "2")
    await wait_until(pilot, lambda: rows(pilot.app, "order-table"))


async def order_detail(pilot: Any) -> None:
    await customer_orders(pilot)
    await wait_until(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "order-table")
    await press(pilot, "enter")
    await on_screen(pilot, "OrderDetailScreen")
    await wait_until(pilot, lambda: rows(pilot.app, "timeline"))


async def store(pilot: Any, db: str) -> None:
    import deliverycli

    await wait_until(pilot, lambda: rows(pilot.app, "new-table"))
    with deliverycli.open_engine(db) as engine:  # another process: a new order arrives
        engine.orders.place("carol", "pizza-palace", ["margherita:2", "garlic-bread"], "7 Birch Ln")
    await wait_until(pilot, lambda: rows(pilot.app, "new-table")[0][0] == "●")
    await wait_until(pilot, lambda: pilot.app.screen.query("Toast"))


async def nothing(pilot: Any) -> None:
    pass


VIEWS: list[tuple[str, str | None, str | None, str, Callable[..., Awaitable[None]]]] = [
    ("role-picker", None, None, "RolePickerScreen", nothing),
    ("customer", "customer", "alice", "CustomerScreen", customer),
    ("customer-orders", "customer", "alice", "CustomerScreen", customer_orders),
    ("order-detail", "customer", "alice", "CustomerScreen", order_detail),
    ("store", "store", "pizza-palace", "StoreScreen", store),
    ("rider", "rider", "rider-lee", "RiderScreen", nothing),
    ("feed", "feed", None, "FeedScreen", nothing),
    ("ops", "ops", None, "OpsScreen", nothing),
]


async def shoot(folder: Path, name: str, role: str | None, actor: str | None, screen: str, prepare: Callable[..., Awaitable[None]]) -> Path:
    import deliverycli
    from deliverycli.app import DeliveryApp
    from deliverycli.settings import load_settings

    db = str(folder / f"{name}.db")
    engine = deliverycli.initialise(db, demo=True)
    seed(engine)
    frozen = snapshot_time(engine)  # so the operations view has stuck orders to show
    engine.close()
    live = name == "store"
    app = DeliveryApp(  # preferences of its own: a remembered role or theme would change the pictures
        load_settings(db=db), role=role, actor=actor, poll_interval=0.1 if live else None, clock=lambda: frozen, preferences_file=folder / f"{name}.json"
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await on_screen(pilot, screen)
        await settle(pilot)
        await (prepare(pilot, db) if live else prepare(pilot))
        await settle(pilot)
        await pilot.pause()
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))


# The SVG names a list of fonts; cairosvg takes only the first, and where Fira Code is not installed
# it falls back to a proportional font that puts the terminal's columns out of line.
FONT_LIST = re.compile(r"font-family: Fira Code, monospace;")


def to_png(svg: Path) -> Path:
    """Draw ``svg`` as a PNG of the same size beside it, in the system's monospace font."""
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # OSError: the cairo library itself is missing
        raise SystemExit(f"drawing PNGs needs cairosvg and the cairo library: pip install -e '.[docs]' ({exc})") from None
    png = svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=FONT_LIST.sub("font-family: monospace;", svg.read_text()).encode(), write_to=str(png))
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--png-only", action="store_true", help="do not shoot the views again; draw a PNG for each SVG in docs/screenshots")
    args = parser.parse_args()
    os.environ["DELIVERYCLI_CONFIG"] = str(Path(tempfile.gettempdir()) / "deliverycli-screenshots-no-config.toml")
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.png_only:
        with tempfile.TemporaryDirectory() as folder:
            for name, role, actor, screen, prepare in VIEWS:
                path = asyncio.run(shoot(Path(folder), name, role, actor, screen, prepare))
                print(path.relative_to(ROOT))
    for svg in sorted(OUT.glob("*.svg")):
        print(to_png(svg).relative_to(ROOT))


if __name__ == "__main__":
    main()
