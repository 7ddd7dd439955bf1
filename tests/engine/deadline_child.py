"""A separate process on a test database, for the deadline races and the kill test (run as a script).

    python deadline_child.py DB CLOCK_ISO START_AT ACTION [ARGS...]

The engine runs on a ManualClock set to CLOCK_ISO (the parent's simulated time), waits for the
wall-clock instant START_AT (so racing children hit the database together), then does ACTION:
``fire`` (fire every due timer), ``catch-up`` (what any process does on opening), or
``accept STORE ORDER...`` (the store accepts each order). Prints a JSON result on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime


def main() -> None:
    db, clock_iso, start_at, action, *args = sys.argv[1:]
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.clock import ManualClock
    from deliverycli.engine.errors import DeliveryError
    from deliverycli.settings import load_settings

    engine = Engine.open(load_settings(db=db, retry_backoff_s=0.001), catch_up=False, clock=ManualClock(datetime.fromisoformat(clock_iso)))
    engine.bus  # build the command side before the start line, so the race is between the commands
    print(json.dumps({"ready": True}), flush=True)
    time.sleep(max(0.0, float(start_at) - time.time()))
    result: dict = {}
    if action == "fire":
        result["fired"] = [[t.id, t.state] for t in engine.timers.fire_due(limit=None)]
    elif action == "catch-up":
        result["fired"] = [[t.id, t.state] for t in engine.catch_up().timers_fired]
    elif action == "accept":
        store, *orders = args
        result["accepted"], result["refused"] = [], []
        for order_id in orders:
            try:
                engine.store.accept(order_id, store)
                result["accepted"].append(order_id)
            except DeliveryError as refusal:
                result["refused"].append([order_id, refusal.exit_code])
    engine.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
