"""``/events``: the event log as Server-Sent Events, live, filtered to what the caller may see.

One event per stored event (``id:`` its sequence number, ``event:`` its type, ``data:`` the
EventView as JSON). A client resumes after a disconnect with ``Last-Event-ID`` and misses nothing:
the stream never moves past an event it has not sent unless that event was committed and is not
the caller's. New events are found by polling the log's head (one poll per process, however many
streams are open), so a commit by any process shows within about ``server_sse_poll_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from ...engine.errors import DeliveryError, InvalidInput
from ...engine.outside_views import Actor
from ..auth import ActorDep, EngineDep, check_sees
from ..errors import Problem, engine_problem, problem_responses
from ..params import ID_REGEX, MAX_OFFSET

router = APIRouter(tags=["events"], responses=problem_responses(401, 404, 422, 503))
log = logging.getLogger("deliverycli.server")
BATCH = 200
MAX_EVENT_ID = MAX_OFFSET * MAX_OFFSET


class HeadWatcher:
    """Polls the event log's head while at least one stream follows it, and wakes the streams
    when it moves."""

    def __init__(self, read_head: Any, interval_s: float) -> None:
        self.read_head = read_head
        self.interval_s = interval_s
        self.head = 0
        self.followers = 0
        self._moved = asyncio.Event()
        self._someone = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        if self._task is None:
            self._task = asyncio.create_task(self._poll())
        self.followers += 1
        self._someone.set()
        try:
            yield
        finally:
            self.followers -= 1

    async def wait_past(self, seen: int, timeout_s: float = 30.0) -> None:
        """Return once the head is past ``seen`` (or after ``timeout_s``)."""
        while self.head <= seen:
            moved = self._moved
            try:
                await asyncio.wait_for(moved.wait(), timeout_s)
            except TimeoutError:
                return

    async def _poll(self) -> None:
        while True:
            if not self.followers:
                self._someone.clear()
                await self._someone.wait()
            try:
                head = await run_in_threadpool(self.read_head)
            except Exception as exc:  # noqa: BLE001 - the database may come back; the streams wait meanwhile
                log.warning("polling the event log's head failed: %s", exc)
            else:
                if head != self.head:
                    self.head = head
                    moved, self._moved = self._moved, asyncio.Event()
                    moved.set()  # wakes every stream waiting on it
            await asyncio.sleep(self.interval_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def role_filter(actor: Actor) -> dict[str, str]:
    """The feed's filter to the caller's own orders (ops: none)."""
    return {} if actor.role == "ops" else {f"{actor.role}_id": actor.actor_id or ""}


def _start(last_event_id: str | None, after: int | None, head: int) -> int:
    if last_event_id is not None:
        text = last_event_id.strip()
        if not text.isascii() or not text.isdigit() or int(text) > MAX_EVENT_ID:
            raise InvalidInput(f"Last-Event-ID must be an event id (a whole number), not {last_event_id[:40]!r}", field="Last-Event-ID")
        return int(text)
    return after if after is not None else head


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "a stream of Server-Sent Events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def follow_events(
    request: Request, actor: ActorDep, engine: EngineDep,
    order_id: Annotated[str | None, Query(pattern=ID_REGEX, max_length=64, description="only this order's events")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_EVENT_ID, description="start after this event id (0: from the start; default: from now)")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40, description="resume after this event id")] = None,
) -> EventSourceResponse:
    """Follow the events of the caller's orders (ops: all) as Server-Sent Events."""
    watcher: HeadWatcher = request.app.state.watcher
    if order_id is not None:
        view = await run_in_threadpool(engine.orders.status, order_id)
        check_sees(actor, order_id, view.customer_id, view.store_id, view.rider_id)
    head = await run_in_threadpool(engine.events.head)
    start = _start(last_event_id, after, head)
    filters = role_filter(actor) | ({"order_id": order_id} if order_id else {})

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async with watcher.following():
            last = start
            while True:
                known = watcher.head  # every event up to here is committed (and visible to the feed below)
                try:
                    batch = await run_in_threadpool(lambda: engine.events.feed(after=last, limit=BATCH, **filters))
                except DeliveryError as exc:  # the headers are sent: say it as an event, and end (the client resumes)
                    body = Problem.model_validate_json(engine_problem(exc).body)
                    yield ServerSentEvent(data=body.model_dump_json(), event="error")
                    return
                for event in batch:
                    yield ServerSentEvent(data=event.model_dump_json(), event=event.event_type, id=str(event.id))
                if len(batch) == BATCH:
                    last = batch[-1].id
                    continue
                last = max([last, known] + [event.id for event in batch])
                await watcher.wait_past(last)

    return EventSourceResponse(stream(), ping=15)
