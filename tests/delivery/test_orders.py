"""Orders CSV: validated rows, bad ones reported by line and field, all or nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from authority.service import Authority
from certseal.errors import InputError
from delivery.orders import OrderRules, OrdersFile, parse_orders
from delivery.service import Delivery
from tests.conftest import ACTOR, NOW

HEAD = (
    "order_id,student_id,doc_type,language,ordered_on,note,wes_ref,asuid,"
    "recipient_kind,recipient_email,recipient_name\n"
)
DAY = dt.date(2026, 6, 22)
NTNU = OrderRules(max_recipients=2, max_per_kind={"original": 1, "copy": 1})


def _parse(rows: str, rules: OrderRules | None = None) -> OrdersFile:
    return parse_orders((HEAD + rows).encode(), rules or OrderRules(), default_date=DAY)


def test_rows_of_one_order_are_grouped() -> None:
    got = _parse(
        "O1,B11102001,transcript,en,2026-06-20,note,PTTC2001009,ASU-9,original,a@b.org,A\n"
        "O1,B11102001,transcript,en,2026-06-20,note,PTTC2001009,ASU-9,copy,me@c.org,\n"
        "O2,B11101001,rank_certificate,,,,,,original,x@y.org,\n"
    )
    assert got.rejected == ()
    o1, o2 = got.orders
    assert [r.kind for r in o1.recipients] == ["original", "copy"]
    assert o1.wes_ref == "PTTC2001009" and o1.asuid == "ASU-9" and o1.language == "en"
    assert o2.ordered_on == DAY and o2.language == "zh-TW" and o2.wes_ref is None
    assert type(o1).from_dict(o1.to_dict()) == o1


@pytest.mark.parametrize(
    ("row", "line", "field"),
    [
        ("O1,B11102001,transcript,,,,612345,,original,a@b.org,\n", 2, "wes_ref"),
        ("O1,B11102001,transcript,,,,PTC1234567,,original,a@b.org,\n", 2, "wes_ref"),
        ("O1,B11102001,transcript,,,,,,original,not-an-address,\n", 2, "recipient_email"),
        ("O1,B11102001,transcript,,,,,,sibling,a@b.org,\n", 2, "recipient_kind"),
        ("O1,B11102001,diploma_zh,,,,,,original,a@b.org,\n", 2, "doc_type"),
        ("O1,B11102001,transcript,fr,,,,,original,a@b.org,\n", 2, "language"),
        ("O1,B11102001,transcript,,2026-13-01,,,,original,a@b.org,\n", 2, "ordered_on"),
        ("O 1,B11102001,transcript,,,,,,original,a@b.org,\n", 2, "order_id"),
        (
            "O1,B11102001,transcript,,,,,,original,a@b.org,\n"
            "O1,B11102002,transcript,,,,,,copy,c@d.org,\n",
            3,
            "student_id",
        ),
        (
            "O1,B11102001,transcript,,,,,,original,a@b.org,\n"
            "O1,B11102001,transcript,,,,,,copy,A@b.org,\n",
            2,
            "recipient_email",
        ),
    ],
)
def test_a_bad_row_is_named_by_line_and_field(row: str, line: int, field: str) -> None:
    got = _parse(row)
    assert [(e.line, e.field) for e in got.rejected] == [(line, field)]


def test_ntnu_allows_one_original_and_one_copy() -> None:
    rows = (
        "O1,B11102001,transcript,,,,,,original,a@b.org,\n"
        "O1,B11102001,transcript,,,,,,original,c@d.org,\n"
    )
    got = _parse(rows, NTNU)
    assert [e.field for e in got.rejected] == ["recipient_kind"]
    assert "allows 1 per order" in got.rejected[0].en
    assert _parse(rows).rejected == ()  # NCU's rules: up to 10


def test_ncu_allows_ten_recipients_not_eleven() -> None:
    rows = "".join(f"O1,B11102001,transcript,,,,,,copy,r{i}@example.org,\n" for i in range(11))
    got = _parse(rows)
    assert "at most 10" in got.rejected[0].en
    assert _parse("".join(rows.splitlines(keepends=True)[:10])).rejected == ()


def test_a_file_without_the_columns_is_refused() -> None:
    with pytest.raises(InputError, match="no column recipient_kind, recipient_email"):
        parse_orders(b"order_id,student_id,doc_type\n", OrderRules(), default_date=DAY)


def test_an_import_with_one_bad_row_imports_nothing(home: Path) -> None:
    rows = (
        "O1,B11102001,transcript,,,,,,original,a@b.org,\n"
        "O2,NOSUCH999,transcript,,,,,,original,a@b.org,\n"
        "O3,B11101001,degree_certificate_en,,,,,,original,a@b.org,\n"
    )
    (home / "delivery.toml").write_text('[rules]\nhold_for_approval = ["degree_certificate_en"]\n')
    with Authority(home) as auth, Delivery(auth) as d:
        rep = d.import_orders((HEAD + rows).encode(), now=NOW, actor=ACTOR, source="o.csv")
        assert [(e.line, e.field) for e in rep.rejected] == [(3, "student_id")]
        assert d.orders() == []
        good = HEAD + rows.replace("NOSUCH999", "B11102002")
        rep = d.import_orders(good.encode(), now=NOW, actor=ACTOR, source="o.csv")
        assert (rep.added, rep.held, rep.rejected) == (3, 1, ())
        held = {r.order.order_id for r in d.orders() if r.held}
        assert held == {"O3"}
        assert {o.order_id for o in d.ready_orders()} == {"O1", "O2"}
        # The same file again: nothing new; a changed order under an old id: refused by line.
        again = d.import_orders(good.encode(), now=NOW, actor=ACTOR, source="o.csv")
        assert (again.added, again.already) == (0, 3)
        changed = good.replace(
            "O1,B11102001,transcript,,,,,,original,a@b.org",
            "O1,B11102001,transcript,,,,,,original,z@b.org",
        )
        bad = d.import_orders(changed.encode(), now=NOW, actor=ACTOR, source="o.csv")
        assert [(e.line, e.field) for e in bad.rejected] == [(2, "order_id")]
