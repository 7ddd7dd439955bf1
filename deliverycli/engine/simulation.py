"""A day of orders in seconds: drives orders through their whole lifecycle with the same engine
commands people use, deterministically for a seed, and resumably after a crash.

Nothing about progress is kept outside the engine's own transactions. Each planned order is placed
with the idempotency key ``sim-<run>-<index>``, and what it does next follows from its plan (drawn
from the seed and its index) and its current status. So ``resume`` replays the run: orders already
placed are found by their key (a payment cut off by a crash is settled by asking the gateway), and
each order takes only the step its status calls for. Nothing is lost and nothing is repeated.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import eventlog, notification
from .errors import DeliveryError, InvalidInput, NotFound, PaymentFailed
from .lifecycle import FINAL, OrderStatus
from .ordering.repository import orders as orders_table
from .payment.records import payments as payments_table
from .storage import JSONType, UTCDateTime, metadata

if TYPE_CHECKING:
    from .bootstrap import Engine

S = OrderStatus

simulation_runs = sa.Table(
    "simulation_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("options", JSONType, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
)

WAVE = 250  # orders driven through each phase together, so subscribers drain them in batches
CUSTOMERS = 20
MENU = [("classic", "House classic", 12000), ("special", "Chef's special", 16500), ("side", "Side dish", 5000), ("drink", "Soft drink", 2500)]
REJECT_REASONS = ["out of ingredients", "kitchen closing early", "too busy right now"]
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SimulationOptions:
    orders: int
    stores: int = 3
    riders: int = 3
    cancel_rate: float = 0.1
    reject_rate: float = 0.05
    payment_failure_rate: float = 0.0
    payment_latency_ms: int = 0
    seed: int = 0
    # With deadlines: simulated time (a ManualClock the run moves), stores that never answer, riders
    # who come late and customers who never confirm; the deadlines settle them. A day takes seconds.
    deadlines: bool = False
    ignore_rate: float = 0.05
    late_pickup_rate: float = 0.1
    unconfirmed_rate: float = 0.2

    def validate(self) -> SimulationOptions:
        for name in ("orders", "stores", "riders", "payment_latency_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number >= 0 (got {value!r})", field=name)
        for name in ("stores", "riders"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be at least 1", field=name)
        if self.orders > 10_000_000:
            raise InvalidInput("orders must be at most 10,000,000", field="orders")
        for name in ("cancel_rate", "reject_rate", "payment_failure_rate", "ignore_rate", "late_pickup_rate", "unconfirmed_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{name.replace('_', ' ')} must be between 0 and 1 (got {value!r})", field=name)
        if self.cancel_rate + self.reject_rate > 1.0:
            raise InvalidInput("the cancel rate plus the reject rate must not exceed 1", field="cancel_rate")
        return self


@dataclass(frozen=True)
class PlannedOrder:
    index: int
    customer_id: str
    store_id: str
    items: tuple[tuple[str, int], ...]
    fate: str  # "deliver", "cancel" or "reject"
    rider_id: str
    reject_reason: str
    ignored: bool = False  # the store never answers (the acceptance deadline rejects it)
    late_pickup: bool = False  # no rider comes before the pickup alert
    unconfirmed: bool = False  # the customer never confirms (the system does, a day later)


def plan_order(options: SimulationOptions, index: int, customers: list[str], stores: list[str], menus: dict[str, list[str]], riders: list[str]) -> PlannedOrder:
    """What order ``index`` of a run does: the same for the same seed, whatever happened before."""
    rng = random.Random(f"{options.seed}:{index}")
    store_id = stores[rng.randrange(len(stores))]
    menu = menus[store_id]
    picked = rng.sample(menu, k=rng.randint(1, min(3, len(menu))))
    draw = rng.random()
    fate = "cancel" if draw < options.cancel_rate else "reject" if draw < options.cancel_rate + options.reject_rate else "deliver"
    late = [r < rate for r, rate in zip(_draws(options, index), (options.ignore_rate, options.late_pickup_rate, options.unconfirmed_rate))]
    return PlannedOrder(
        index=index,
        customer_id=customers[rng.randrange(len(customers))],
        store_id=store_id,
        items=tuple((item, rng.randint(1, 3)) for item in picked),
        fate=fate,
        rider_id=riders[rng.randrange(len(riders))],
        reject_reason=rng.choice(REJECT_REASONS),
        ignored=fate == "deliver" and late[0], late_pickup=late[1], unconfirmed=late[2],
    )


def _draws(options: SimulationOptions, index: int) -> list[float]:
    """The deadline draws, from their own stream: a run without deadlines plans exactly as before."""
    if not options.deadlines:
        return [1.0, 1.0, 1.0]
    rng = random.Random(f"{options.seed}:{index}:deadlines")
    return [rng.random() for _ in range(3)]


def _key(run_id: int, index: int) -> str:
    return f"sim-{run_id}-{index}"


class Simulation:
    """One run of the simulation on an open engine (whose gateway carries the run's fault injection)."""

    def __init__(self, engine: Engine, run_id: int, options: SimulationOptions, progress: ProgressCallback | None = None) -> None:
        self.engine = engine
        self.run_id = run_id
        self.options = options
        self.progress = progress or (lambda phase, done, total: None)
        self.not_placed: Counter[str] = Counter()

    # -- the world --------------------------------------------------------------------------------

    def prepare_world(self) -> tuple[list[str], list[str], dict[str, list[str]], list[str]]:
        """Use the stores, riders and customers there are (in id order); add the ones missing."""
        opts = self.options
        engine = self.engine
        stores = [s.id for s in engine.catalog.stores()]
        for n in range(1, opts.stores + 1):
            if len(stores) >= opts.stores:
                break
            store_id = f"sim-store-{n:03d}"
            if store_id not in stores:
                engine.catalog.add_store(store_id, f"Simulated kitchen {n}", f"{n} Simulation Ave")
                stores.append(store_id)
        stores = sorted(stores)[: opts.stores]
        menus: dict[str, list[str]] = {}
        for store_id in stores:
            items = [m.id for m in engine.catalog.menu(store_id) if m.available]
            if not items:
                for item_id, name, price in MENU:
                    engine.catalog.add_menu_item(store_id, f"{store_id}-{item_id}", name, price)
                items = [f"{store_id}-{item_id}" for item_id, _, _ in MENU]
            menus[store_id] = sorted(items)
        riders = sorted(r.id for r in engine.catalog.riders())
        for n in range(1, opts.riders + 1):
            if len(riders) >= opts.riders:
                break
            if f"sim-rider-{n:03d}" not in riders:
                engine.catalog.add_rider(f"sim-rider-{n:03d}", f"Simulated rider {n}")
                riders.append(f"sim-rider-{n:03d}")
        riders = sorted(riders)[: opts.riders]
        customers = sorted(c.id for c in engine.catalog.customers())
        for n in range(1, CUSTOMERS + 1):
            if len(customers) >= CUSTOMERS:
                break
            if f"sim-customer-{n:03d}" not in customers:
                engine.catalog.add_customer(f"sim-customer-{n:03d}", f"Simulated customer {n}", f"{n} Customer Rd")
                customers.append(f"sim-customer-{n:03d}")
        return sorted(customers)[:CUSTOMERS], stores, menus, riders

    # -- driving ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        customers, stores, menus, riders = self.prepare_world()
        total = self.options.orders
        done = 0
        self.progress("orders", 0, total)
        for first in range(0, total, WAVE):
            plans = [plan_order(self.options, i, customers, stores, menus, riders) for i in range(first, min(first + WAVE, total))]
            self._drive_wave(plans)
            done += len(plans)
            self.progress("orders", done, total)
        self.engine.bus.drain()
        wall = time.perf_counter() - started
        return self.summary(wall)

    def _statuses(self, plans: list[PlannedOrder]) -> dict[int, tuple[str, OrderStatus]]:
        """The order placed for each plan so far, with its status, read from the ordering context."""
        keys = {_key(self.run_id, p.index): p.index for p in plans}
        with self.engine.read() as conn:
            rows = conn.execute(
                sa.select(orders_table.c.idempotency_key, orders_table.c.id, orders_table.c.status).where(
                    orders_table.c.idempotency_key.in_(list(keys))
                )
            )
            return {keys[row.idempotency_key]: (row.id, OrderStatus(row.status)) for row in rows}

    def _drive_wave(self, plans: list[PlannedOrder]) -> None:
        engine = self.engine
        placed = self._statuses(plans)
        with engine.deferred():
            for plan in plans:
                if plan.index in placed and placed[plan.index][1] is not S.PENDING_PAYMENT:
                    continue
                try:
                    engine.orders.place(
                        plan.customer_id, plan.store_id, list(plan.items), f"{plan.index} Simulation St",
                        idempotency_key=_key(self.run_id, plan.index),
                    )
                except PaymentFailed as failure:
                    if failure.order_id is None:  # the breaker failed it fast: no order exists
                        self.not_placed["payment service unavailable (breaker open)"] += 1
        # Each phase: every order whose status calls for this step takes it; the sagas then settle.
        # With deadlines, those who are late skip their step, time passes, and the deadlines act.
        s = engine.settings
        self._phase(plans, {S.PAID: self._store_decides}, late=lambda p: p.ignored and s.accept_timeout_s > 0)
        self._let_time_pass(s.accept_timeout_s)
        self._phase(plans, {S.COOKING: lambda p, oid: engine.store.ready(oid, p.store_id)})
        pick_up = {S.READY_FOR_PICKUP: lambda p, oid: engine.deliveries.pick_up(oid, p.rider_id)}
        self._phase(plans, pick_up, late=lambda p: p.late_pickup and s.pickup_alert_s > 0)
        if self._let_time_pass(s.pickup_alert_s):
            self._phase(plans, pick_up)  # the late riders come after the alert
        self._phase(plans, {S.DELIVERING: lambda p, oid: engine.deliveries.complete(oid, p.rider_id)})
        self._phase(plans, {S.DELIVERED: lambda p, oid: engine.orders.confirm(oid, p.customer_id)}, late=lambda p: p.unconfirmed and s.confirm_timeout_s > 0)
        self._let_time_pass(s.confirm_timeout_s)

    def _let_time_pass(self, seconds: float) -> bool:
        """With deadlines: move the simulated clock on by ``seconds`` and fire what fell due."""
        if not self.options.deadlines or not seconds:
            return False
        self.engine.clock.advance(seconds)  # type: ignore[attr-defined]  # a ManualClock (see simulate)
        self.engine.timers.fire_due(limit=None)
        return True

    def _store_decides(self, plan: PlannedOrder, order_id: str) -> None:
        if plan.fate == "cancel":
            self.engine.orders.cancel(order_id, plan.customer_id)
        elif plan.fate == "reject":
            self.engine.store.reject(order_id, plan.store_id, plan.reject_reason)
        else:
            self.engine.store.accept(order_id, plan.store_id)

    def _phase(
        self, plans: list[PlannedOrder], steps: dict[OrderStatus, Callable[[PlannedOrder, str], Any]], late: Callable[[PlannedOrder], bool] = lambda p: False
    ) -> None:
        statuses = self._statuses(plans)
        with self.engine.deferred():
            for plan in plans:
                placed = statuses.get(plan.index)
                if placed is None or placed[1] not in steps or late(plan):
                    continue
                order_id, status = placed
                try:
                    steps[status](plan, order_id)
                except DeliveryError:
                    # Another actor moved it first (only possible if people share the database with
                    # the simulation); the order's status tells the next phase what to do.
                    self.not_placed["steps refused by the engine"] += 1

    # -- the summary ------------------------------------------------------------------------------

    def summary(self, wall_s: float) -> dict[str, Any]:
        prefix = f"sim-{self.run_id}-"
        o = orders_table
        in_run = o.c.idempotency_key.between(prefix, prefix + "\uffff")
        with self.engine.read() as conn:
            by_status = dict(conn.execute(sa.select(o.c.status, sa.func.count()).where(in_run).group_by(o.c.status)).all())
            run_orders = sa.select(o.c.id).where(in_run).scalar_subquery()
            events = conn.execute(sa.select(sa.func.count()).select_from(eventlog.events).where(eventlog.events.c.order_id.in_(run_orders))).scalar_one()
            notifications = conn.execute(
                sa.select(sa.func.count()).select_from(notification.notifications).where(notification.notifications.c.order_id.in_(run_orders))
            ).scalar_one()
            p = payments_table
            charged = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(p.c.amount), 0)).where(p.c.order_id.in_(run_orders), p.c.status.in_(["APPROVED", "REFUNDED"]))
            ).scalar_one()
            refunded = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(p.c.amount), 0)).where(p.c.order_id.in_(run_orders), p.c.status == "REFUNDED")
            ).scalar_one()
            kept = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(o.c.total), 0)).where(in_run, o.c.status == S.CONFIRMED.value)).scalar_one()
            e = eventlog.events
            by_deadline = dict(conn.execute(
                sa.select(e.c.event_type, sa.func.count()).where(e.c.order_id.in_(run_orders), e.c.actor == "system:deadlines").group_by(e.c.event_type)
            ).all())
        orders = sum(by_status.values())
        unfinished = sum(n for status, n in by_status.items() if OrderStatus(status) not in FINAL)
        return {
            "id": self.run_id,
            "run": self.run_id,
            "options": asdict(self.options),
            "orders": orders,
            "orders_by_status": dict(sorted(by_status.items())),
            "unfinished": unfinished,
            "not_placed": dict(self.not_placed),
            "events": events,
            "notifications": notifications,
            "payments": {"charged": int(charged), "refunded": int(refunded), "net": int(charged - refunded), "confirmed_orders_total": int(kept)},
            "deadlines": {
                "auto_rejected": by_deadline.get("StoreOrderRejected", 0), "pickup_alerts": by_deadline.get("PickupOverdue", 0),
                "auto_confirmed": by_deadline.get("DeliveryConfirmed", 0),
            },
            "wall_time_s": round(wall_s, 3),
            "lifecycles_per_s": round(orders / wall_s, 1) if wall_s > 0 else None,
        }


# -- runs ---------------------------------------------------------------------------------------


def start_run(engine: Engine, options: SimulationOptions) -> int:
    with engine.write() as conn:
        return conn.execute(
            simulation_runs.insert().values(options=asdict(options), started_at=engine.clock.now()).returning(simulation_runs.c.id)
        ).scalar_one()


def unfinished_run(engine: Engine) -> tuple[int, SimulationOptions]:
    """The newest run that did not finish, to resume."""
    with engine.read() as conn:
        row = conn.execute(
            sa.select(simulation_runs).where(simulation_runs.c.finished_at.is_(None)).order_by(simulation_runs.c.id.desc()).limit(1)
        ).first()
    if row is None:
        raise NotFound("there is no interrupted simulation to resume on this database")
    return row.id, SimulationOptions(**row.options)


def finish_run(engine: Engine, run_id: int) -> None:
    with engine.write() as conn:
        conn.execute(simulation_runs.update().where(simulation_runs.c.id == run_id).values(finished_at=engine.clock.now()))


def simulate(settings: Any, options: SimulationOptions | None, *, resume: bool = False, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run (or with ``resume`` finish) a simulation on the database of ``settings``; returns its summary."""
    from .bootstrap import Engine

    if options is not None:
        options.validate()
    with Engine.open(settings) as probe:
        if resume:
            run_id, options = unfinished_run(probe)
        else:
            assert options is not None
            run_id = None
        latest = probe.events.latest(1)
    assert options is not None
    parts: dict[str, Any] = {}
    if options.deadlines:  # simulated time, from now (or from where an earlier simulated run left it)
        from datetime import UTC, datetime

        from .clock import ManualClock

        parts["clock"] = ManualClock(max([datetime.now(UTC), *(e.occurred_at for e in latest)]))
    # The run's fault injection lives in the gateway, so the engine is opened with the run's options.
    run_settings = settings.model_copy(
        update={
            "payment_failure_rate": options.payment_failure_rate,
            "payment_latency_ms": options.payment_latency_ms,
            "payment_seed": options.seed,
        }
    )
    with Engine.open(run_settings, **parts) as engine:
        if run_id is None:
            run_id = start_run(engine, options)
        result = Simulation(engine, run_id, options, progress).run()
        if result["unfinished"] == 0:
            finish_run(engine, run_id)
        result["resumed"] = resume
        return result

