"""The outbox is append-only: UPDATE, DELETE and REPLACE are refused on every connection, and
a delivery's steps follow their order."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from delivery.errors import OrderError, OutboxError
from delivery.orders import Order, Recipient
from delivery.outbox import NewDelivery, Outbox

T = dt.datetime(2026, 6, 22, 9, 0, tzinfo=dt.UTC)


def _order(oid: str = "ORD-1") -> Order:
    return Order(oid, "B11102001", "transcript", T.date(), (Recipient("original", "a@b.org"),))


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path / "delivery.sqlite")
    box.add_orders([_order()], at=T, actor="t", source="t.csv")
    box.plan(
        [NewDelivery("k1", "DOC-1", "email", "original", "a@b.org", order_id="ORD-1")],
        domain="demo.example.edu.tw",
        at=T,
        actor="t",
    )
    return box


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE orders SET student_id='X'",
        "DELETE FROM orders",
        "UPDATE delivery_events SET state='sent'",
        "DELETE FROM delivery_events",
        "DELETE FROM deliveries",
        "UPDATE order_events SET kind='released'",
        "INSERT OR REPLACE INTO orders VALUES ('ORD-1', 'X', 'transcript', '{}', 't', 't', 't')",
        "REPLACE INTO deliveries SELECT * FROM deliveries",
        "INSERT OR REPLACE INTO meta VALUES ('schema', '99')",
    ],
)
def test_changing_a_row_is_refused(outbox: Outbox, tmp_path: Path, sql: str) -> None:
    outbox.close()
    # A fresh connection, as any other program would open: the triggers live in the file and
    # Outbox turns recursive_triggers on, so REPLACE's implicit delete is refused too.
    box = Outbox(tmp_path / "delivery.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        box.conn.execute(sql)
    assert box.find_order("ORD-1") == _order()
    assert box.delivery("DOC-1.1").state == "queued"


def test_planning_twice_adds_nothing_and_the_message_id_is_fixed(outbox: Outbox) -> None:
    again = outbox.plan(
        [NewDelivery("k1", "DOC-1", "email", "original", "a@b.org", order_id="ORD-1")],
        domain="other.example",
        at=T,
        actor="t",
    )
    assert again == []
    assert outbox.delivery("DOC-1.1").message_id == "<DOC-1.1@demo.example.edu.tw>"


def test_steps_follow_their_order(outbox: Outbox) -> None:
    with pytest.raises(OutboxError, match="'sent' follows an attempt"):
        outbox.record("DOC-1.1", "sent", at=T, actor="t")
    outbox.record("DOC-1.1", "sending", at=T, actor="t")
    outbox.record("DOC-1.1", "sent", at=T, actor="t", code=250, answer="ok")
    with pytest.raises(OutboxError, match="already sent: a resend is a new delivery"):
        outbox.record("DOC-1.1", "sending", at=T, actor="t")
    assert [e.state for e in outbox.events("DOC-1.1")] == ["queued", "sending", "sent"]


def test_a_changed_order_under_the_same_id_is_refused(outbox: Outbox) -> None:
    changed = Order(
        "ORD-1", "B11102001", "transcript", T.date(), (Recipient("original", "x@y.org"),)
    )
    with pytest.raises(OrderError, match="never changed"):
        outbox.add_orders([changed], at=T, actor="t", source="t.csv")
    assert outbox.add_orders([_order()], at=T, actor="t", source="t.csv") == 0


def test_hold_and_release_are_appended_events(outbox: Outbox) -> None:
    outbox.hold("ORD-1", "ID copy first", at=T, actor="t")
    assert outbox.order("ORD-1").held
    with pytest.raises(OrderError, match="already held"):
        outbox.hold("ORD-1", "again", at=T, actor="t")
    outbox.release("ORD-1", "ID copy received", at=T, actor="t")
    assert not outbox.order("ORD-1").held
    kinds = [k for k, *_ in outbox.order_events("ORD-1")]
    assert kinds == ["imported", "held", "released"]
