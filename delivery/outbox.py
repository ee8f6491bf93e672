"""The outbox: orders, deliveries and every step of them, append-only, in ``delivery.sqlite``.

One delivery is one document to one recipient over one channel (e-mail or SFTP), with a
Message-ID fixed when it is planned. Its state is its latest event: queued, sending (an attempt
began), sent, deferred (4xx: retried later), bounced (5xx), failed (cannot be sent), cancelled
(the document was superseded or revoked first). Nothing is ever updated or deleted: triggers
refuse UPDATE and DELETE, and ``recursive_triggers`` is on for every connection so that an
``INSERT OR REPLACE`` (whose implicit delete runs no trigger otherwise) is refused too.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certseal.timeutil import format_time, parse_time
from delivery.errors import OrderError, OutboxError
from delivery.orders import Order

SCHEMA_VERSION = 1
STATES = ("queued", "sending", "sent", "deferred", "bounced", "failed", "cancelled")
FINAL = frozenset({"sent", "bounced", "failed", "cancelled"})
PENDING = frozenset({"queued", "sending", "deferred"})
PROBLEMS = frozenset({"bounced", "failed"})
ORDER_EVENTS = ("imported", "held", "released")

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    student_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    data TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_student ON orders (student_id, doc_type);
CREATE TABLE IF NOT EXISTS order_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    kind TEXT NOT NULL CHECK (kind IN ('imported', 'held', 'released')),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    plan_key TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    order_id TEXT REFERENCES orders (order_id),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sftp')),
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    resend_of TEXT REFERENCES deliveries (delivery_id),
    created_at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_doc ON deliveries (doc_id);
CREATE TABLE IF NOT EXISTS delivery_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES deliveries (delivery_id),
    state TEXT NOT NULL CHECK (state IN
        ('queued', 'sending', 'sent', 'deferred', 'bounced', 'failed', 'cancelled')),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    code INTEGER,
    answer TEXT,
    retry_at TEXT
);
CREATE INDEX IF NOT EXISTS delivery_events_delivery ON delivery_events (delivery_id, seq);
"""

_APPEND_ONLY = ("meta", "orders", "order_events", "deliveries", "delivery_events")


def _triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN "
        f"SELECT RAISE(ABORT, 'the outbox is append-only: {t} rows are never changed'); END;"
        for t in _APPEND_ONLY
        for op in ("UPDATE", "DELETE")
    )


@dataclass(frozen=True)
class OrderRecord:
    """An imported order and its current hold state (from its events)."""

    order: Order
    imported_at: str
    held: bool
    hold_reason: str | None


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to plan: ``plan_key`` makes planning idempotent."""

    plan_key: str
    doc_id: str
    channel: str
    kind: str
    address: str
    name: str = ""
    order_id: str | None = None
    resend_of: str | None = None


@dataclass(frozen=True)
class DeliveryView:
    """A delivery with its latest state and how many attempts it has had."""

    delivery_id: str
    doc_id: str
    order_id: str | None
    channel: str
    kind: str
    address: str
    name: str
    message_id: str
    resend_of: str | None
    created_at: str
    state: str
    state_at: str
    code: int | None
    answer: str | None
    retry_at: str | None
    attempts: int


@dataclass(frozen=True)
class DeliveryEvent:
    seq: int
    delivery_id: str
    state: str
    at: str
    actor: str
    code: int | None
    answer: str | None
    retry_at: str | None


class Outbox:
    """The append-only outbox over one SQLite file. One writer: the authority's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        except sqlite3.Error as e:
            raise OutboxError(
                f"cannot open the outbox {path}: {e}", f"無法開啟寄送紀錄 {path}：{e}"
            ) from None
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            # REPLACE deletes the conflicting row without running DELETE triggers unless this is
            # on: with it, the append-only trigger refuses REPLACE as well.
            "recursive_triggers=ON",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.executescript(_TABLES + _triggers())
        with self.atomic():
            if self.conn.execute("SELECT 1 FROM meta WHERE key='schema'").fetchone() is None:
                self.conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    # -- orders --------------------------------------------------------------------------
    def order(self, order_id: str) -> OrderRecord:
        rows = list(self._rows("SELECT * FROM orders WHERE order_id=?", (order_id,)))
        if not rows:
            raise OrderError(f"no order {order_id} was imported", f"查無申請單 {order_id}")
        return self._order_record(rows[0])

    def find_order(self, order_id: str) -> Order | None:
        row = self.conn.execute("SELECT data FROM orders WHERE order_id=?", (order_id,)).fetchone()
        return None if row is None else Order.from_dict(json.loads(row[0]))

    def orders(self) -> list[OrderRecord]:
        return [self._order_record(r) for r in self._rows("SELECT * FROM orders ORDER BY rowid")]

    def _order_record(self, row: dict[str, Any]) -> OrderRecord:
        held, reason = False, None
        for kind, why in self.conn.execute(
            "SELECT kind, reason FROM order_events WHERE order_id=? ORDER BY seq",
            (row["order_id"],),
        ):
            if kind == "held":
                held, reason = True, why
            elif kind == "released":
                held, reason = False, None
        return OrderRecord(
            Order.from_dict(json.loads(row["data"])), row["imported_at"], held, reason
        )

    def add_orders(
        self,
        orders: Iterable[Order],
        *,
        held: Iterable[tuple[str, str]] = (),
        at: dt.datetime,
        actor: str,
        source: str,
    ) -> int:
        """Append new orders in one transaction; an identical order already imported is skipped,
        a different one under the same id is refused (orders are never changed)."""
        when = format_time(at)
        holds = dict(held)
        added = 0
        with self.atomic():
            for order in orders:
                existing = self.find_order(order.order_id)
                if existing is not None:
                    if existing != order:
                        raise OrderError(
                            f"order {order.order_id} was already imported with other content; "
                            "an order is never changed: import a new order",
                            f"申請單 {order.order_id} 已以不同內容匯入；申請單不可修改，請另立新單",
                        )
                    continue
                self.conn.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        order.order_id,
                        order.student_id,
                        order.doc_type,
                        json.dumps(order.to_dict(), ensure_ascii=False, sort_keys=True),
                        when,
                        actor,
                        source,
                    ),
                )
                self._order_event(order.order_id, "imported", when, actor, None)
                if order.order_id in holds:
                    self._order_event(order.order_id, "held", when, actor, holds[order.order_id])
                added += 1
        return added

    def hold(self, order_id: str, reason: str, *, at: dt.datetime, actor: str) -> None:
        with self.atomic():
            if self.order(order_id).held:
                raise OrderError(f"order {order_id} is already held", f"申請單 {order_id} 已暫停")
            self._order_event(order_id, "held", format_time(at), actor, reason)

    def release(self, order_id: str, reason: str | None, *, at: dt.datetime, actor: str) -> None:
        with self.atomic():
            if not self.order(order_id).held:
                raise OrderError(f"order {order_id} is not held", f"申請單 {order_id} 未暫停")
            self._order_event(order_id, "released", format_time(at), actor, reason)

    def _order_event(
        self, order_id: str, kind: str, at: str, actor: str, reason: str | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO order_events (order_id, kind, at, actor, reason) VALUES (?, ?, ?, ?, ?)",
            (order_id, kind, at, actor, reason),
        )

    def order_events(self, order_id: str) -> list[tuple[str, str, str, str | None]]:
        return [
            (r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT kind, at, actor, reason FROM order_events WHERE order_id=? ORDER BY seq",
                (order_id,),
            )
        ]

    # -- deliveries ----------------------------------------------------------------------
    def planned_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT plan_key FROM deliveries")}

    def plan(
        self, items: Iterable[NewDelivery], *, domain: str, at: dt.datetime, actor: str
    ) -> list[str]:
        """Queue deliveries not planned yet, in one transaction; returns the new ids.

        A delivery's id and Message-ID are fixed here, so every attempt, after any crash,
        carries the same Message-ID."""
        when = format_time(at)
        new: list[str] = []
        with self.atomic():
            for item in items:
                if self.conn.execute(
                    "SELECT 1 FROM deliveries WHERE plan_key=?", (item.plan_key,)
                ).fetchone():
                    continue
                n = self.conn.execute(
                    "SELECT COUNT(*) FROM deliveries WHERE doc_id=?", (item.doc_id,)
                ).fetchone()[0]
                delivery_id = f"{item.doc_id}.{n + 1}"
                self.conn.execute(
                    "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        delivery_id,
                        item.plan_key,
                        item.doc_id,
                        item.order_id,
                        item.channel,
                        item.kind,
                        item.address,
                        item.name,
                        f"<{delivery_id}@{domain}>",
                        item.resend_of,
                        when,
                        actor,
                    ),
                )
                self._append(delivery_id, "queued", when, actor)
                new.append(delivery_id)
        return new

    def record(
        self,
        delivery_id: str,
        state: str,
        *,
        at: dt.datetime,
        actor: str,
        code: int | None = None,
        answer: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """Append a step; refused when the delivery already reached a final state."""
        with self.atomic():
            current = self.delivery(delivery_id)
            if current.state in FINAL:
                raise OutboxError(
                    f"delivery {delivery_id} is already {current.state}: a resend is a new "
                    "delivery",
                    f"寄送 {delivery_id} 已是 {current.state}：重寄須另立一筆",
                )
            if state in ("sent", "deferred", "bounced") and current.state != "sending":
                raise OutboxError(
                    f"delivery {delivery_id}: '{state}' follows an attempt ('sending'), "
                    f"not '{current.state}'",
                    f"寄送 {delivery_id}：「{state}」須在嘗試寄送之後",
                )
            self._append(
                delivery_id,
                state,
                format_time(at),
                actor,
                code,
                answer,
                None if retry_at is None else format_time(retry_at),
            )

    def _append(
        self,
        delivery_id: str,
        state: str,
        at: str,
        actor: str,
        code: int | None = None,
        answer: str | None = None,
        retry_at: str | None = None,
    ) -> None:
        if state not in STATES:
            raise OutboxError(f"unknown delivery state '{state}'", f"未知的寄送狀態「{state}」")
        self.conn.execute(
            "INSERT INTO delivery_events (delivery_id, state, at, actor, code, answer, retry_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (delivery_id, state, at, actor, code, answer, retry_at),
        )

    _VIEW = (
        "SELECT d.delivery_id, d.doc_id, d.order_id, d.channel, d.kind, d.address, d.name, "
        "d.message_id, d.resend_of, d.created_at, e.state, e.at AS state_at, e.code, e.answer, "
        "e.retry_at, (SELECT COUNT(*) FROM delivery_events a WHERE a.delivery_id = d.delivery_id "
        "AND a.state = 'sending') AS attempts FROM deliveries d JOIN delivery_events e ON e.seq = "
        "(SELECT MAX(seq) FROM delivery_events m WHERE m.delivery_id = d.delivery_id)"
    )

    def delivery(self, delivery_id: str) -> DeliveryView:
        rows = list(self._rows(self._VIEW + " WHERE d.delivery_id=?", (delivery_id,)))
        if not rows:
            raise OutboxError(f"no delivery {delivery_id}", f"查無寄送 {delivery_id}")
        return DeliveryView(**rows[0])

    def deliveries(
        self, *, states: Iterable[str] | None = None, doc_id: str | None = None
    ) -> list[DeliveryView]:
        sql, params = self._VIEW, []
        where = []
        if states is not None:
            wanted = sorted(states)
            where.append(f"e.state IN ({', '.join('?' * len(wanted))})")
            params += wanted
        if doc_id is not None:
            where.append("d.doc_id = ?")
            params.append(doc_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [DeliveryView(**r) for r in self._rows(sql + " ORDER BY d.rowid", params)]

    def ready(self, now: dt.datetime) -> list[DeliveryView]:
        """What a run sends now: queued, interrupted attempts, and deferrals whose time came."""
        return [
            d
            for d in self.deliveries(states=PENDING)
            if d.state != "deferred" or d.retry_at is None or parse_time(d.retry_at) <= now
        ]

    def events(self, delivery_id: str) -> list[DeliveryEvent]:
        rows = self._rows(
            "SELECT * FROM delivery_events WHERE delivery_id=? ORDER BY seq", (delivery_id,)
        )
        return [DeliveryEvent(**r) for r in rows]
