"""A process that dies by SIGKILL in the middle of draining, for the kill tests (run as a script).

    python killed_child.py DB KILL_AT drain|worker

Every subscriber handler is wrapped: the KILL_AT-th call writes its effects, then the process kills
itself before the transaction commits. A negative KILL_AT kills it instead after -KILL_AT ms, at an
arbitrary instant. ``drain`` drains once in small batches (7 events: kills land both inside and
between transactions) and says so if it was not killed; ``worker`` runs a worker (batches of 5).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

calls = 0


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.messagebus import Subscriber
    from deliverycli.engine.worker import Worker
    from deliverycli.settings import load_settings

    db, kill_at, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def wrap(handler: Any) -> Any:
        def run(event: Any, uow: Any) -> None:
            global calls
            handler(event, uow)  # the effects are written, not yet committed ...
            calls += 1
            if calls == kill_at:
                die()  # ... when the process dies
        return run

    def wrapped(subscribers: Any) -> list[Any]:
        return [Subscriber(s.name, {t: wrap(h) for t, h in s.handlers.items()}) for s in subscribers]

    engine = Engine.open(load_settings(db=db), catch_up=False, subscribers=wrapped)
    if mode == "worker":
        engine.bus.batch_size = 5
        Worker(engine).run()
        return
    engine.bus.batch_size = 7
    if kill_at < 0:
        threading.Timer(-kill_at / 1000, die).start()
    engine.bus.drain()
    print("drained without being killed")


if __name__ == "__main__":
    main()
