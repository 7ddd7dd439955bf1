"""Esc without Textual's wait (issue 15): a lone ESC byte may start an escape sequence (an arrow key
sends ESC [ A), so the terminal driver waits ``ESCDELAY`` ms for more before calling it the Escape
key. Textual waits 100 ms, and its input thread looks at the clock only every 100 ms, so lowering
ESCDELAY alone changes nothing. This driver waits ``ESCAPE_DELAY_MS`` (unless ESCDELAY is set) and
wakes when that wait ends. Terminals send a sequence in one write, so 25 ms is ample locally and
over most networks; a slow link can set ESCDELAY higher, as for curses programs."""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import constants
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

ESCAPE_DELAY_MS = 25
IDLE_WAIT_S = 0.1  # how often the input thread looks for the app's exit, as Textual's does


def supported() -> bool:
    """Whether this Textual's parser keeps the private deadline this driver reads (Textual 8 does);
    otherwise the app keeps Textual's own driver and its 100 ms."""
    return hasattr(XTermParser(), "_timeout_time")


def input_wait_s(parser: XTermParser) -> float:
    """How long the input thread may wait for input: until a pending ESC becomes the Escape key,
    and at most ``IDLE_WAIT_S``."""
    due = parser._timeout_time  # set by the parser while it waits to see whether an ESC starts a sequence
    return IDLE_WAIT_S if due is None else min(IDLE_WAIT_S, max(0.0, due - get_time()))


class QuickEscapeDriver(LinuxDriver):
    """Textual's Linux driver, whose input thread wakes when a pending Escape is due."""

    def run_input_thread(self) -> None:
        # Textual's own loop (textual 8.2, drivers/linux_driver.py), but for the select timeout.
        if "ESCDELAY" not in os.environ:
            constants.ESCAPE_DELAY = ESCAPE_DELAY_MS / 1000  # read by the parser at each ESC
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(selected: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for index, (_key, mask) in enumerate(selected):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(self.fileno, 4096), final=final and index == len(selected) - 1)
                    if not data:  # stdin is a closed pipe
                        break
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(input_wait_s(parser)))
            selector.unregister(self.fileno)
            process(selector.select(IDLE_WAIT_S), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
