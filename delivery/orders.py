"""Orders for electronic documents, as the school's ordering system exports them (CSV).

One CSV row per recipient; the rows of one order share its ``order_id`` and order fields::

    order_id,student_id,doc_type,language,ordered_on,note,wes_ref,asuid,recipient_kind,recipient_email,recipient_name

``recipient_kind`` is ``original``, ``copy`` or ``institution``. ``wes_ref`` is WES's reference
number (7 digits, or PTTC and 7 digits: NTNU's rule); with it the document is also uploaded to
WES by SFTP. The per-school limits (NTNU: one original and one copy; NCU: up to 10 recipients)
are :class:`OrderRules`. An import is all or nothing: a bad row is reported by line and field
and nothing of the file is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from certseal.doctypes import DIPLOMA_TYPES, DOCUMENT_TYPES
from certseal.errors import InputError, RecordError

RECIPIENT_KINDS = ("original", "copy", "institution")
LANGUAGES = ("zh-TW", "en")
COLUMNS = (
    "order_id",
    "student_id",
    "doc_type",
    "language",
    "ordered_on",
    "note",
    "wes_ref",
    "asuid",
    "recipient_kind",
    "recipient_email",
    "recipient_name",
)
REQUIRED_COLUMNS = ("order_id", "student_id", "doc_type", "recipient_kind", "recipient_email")
ORDER_FIELDS = ("student_id", "doc_type", "language", "ordered_on", "note", "wes_ref", "asuid")

_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9]{4,20}$")
WES_REF = re.compile(r"^(?:PTTC)?[0-9]{7}$")
_ASUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAX_NOTE = 500
MAX_NAME = 120


def is_mail_address(value: str) -> bool:
    """An ASCII ``local@domain.tld`` address, as the standard library's parser reads it (no
    display name, no comment): what every SMTP server accepts without SMTPUTF8."""
    if not value.isascii() or len(value) > 254 or any(c.isspace() for c in value):
        return False
    try:
        parsed = Address(addr_spec=value)
    except (ValueError, IndexError, HeaderParseError):
        return False
    domain = parsed.domain
    return (
        parsed.addr_spec == value
        and bool(parsed.username)
        and "." in domain
        and all(_LABEL.match(label) for label in domain.split("."))
    )


class FieldError(ValueError):
    """One field of an order is wrong; the importer adds the line."""

    def __init__(self, field: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.field = field
        self.en = en
        self.zh = zh


@dataclass(frozen=True)
class Recipient:
    kind: str  # original | copy | institution
    email: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RECIPIENT_KINDS:
            raise FieldError(
                "recipient_kind",
                f"'{self.kind}' must be one of {', '.join(RECIPIENT_KINDS)}",
                f"「{self.kind}」須為 {', '.join(RECIPIENT_KINDS)} 之一",
            )
        if not is_mail_address(self.email):
            raise FieldError(
                "recipient_email",
                f"'{self.email}' is not an e-mail address",
                f"「{self.email}」不是電子郵件地址",
            )
        if len(self.name) > MAX_NAME or any(c in self.name for c in '\r\n<>"'):
            raise FieldError(
                "recipient_name",
                f"must be at most {MAX_NAME} characters, without line breaks, <, > or quotes",
                f"最多 {MAX_NAME} 字，不可含換行、<、> 或引號",
            )

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "email": self.email, "name": self.name}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Recipient:
        return cls(str(d["kind"]), str(d["email"]), str(d.get("name", "")))


@dataclass(frozen=True)
class Order:
    """One order: a document for a student, sent to its recipients (and to WES)."""

    order_id: str
    student_id: str
    doc_type: str
    ordered_on: dt.date
    recipients: tuple[Recipient, ...]
    language: str = "zh-TW"
    note: str = ""
    wes_ref: str | None = None
    asuid: str | None = None

    def __post_init__(self) -> None:
        if not _ORDER_ID.match(self.order_id):
            raise FieldError(
                "order_id",
                f"'{self.order_id}' must be 1 to 40 letters, digits, '.', '_' or '-'",
                f"「{self.order_id}」須為 1 到 40 個英數字、'.'、'_' 或 '-'",
            )
        if not _STUDENT_ID.match(self.student_id):
            raise FieldError(
                "student_id",
                f"'{self.student_id}' must be 4 to 20 letters or digits",
                f"「{self.student_id}」須為 4 到 20 個英數字",
            )
        if self.doc_type not in DOCUMENT_TYPES or self.doc_type in DIPLOMA_TYPES:
            known = ", ".join(t for t in DOCUMENT_TYPES if t not in DIPLOMA_TYPES)
            raise FieldError(
                "doc_type",
                f"'{self.doc_type}' is not a document issued for an order (known: {known}); "
                "diplomas are delivered when issued",
                f"「{self.doc_type}」不是依申請單核發的文件（可用：{known}）；學位證書於核發時寄送",
            )
        if self.language not in LANGUAGES:
            raise FieldError(
                "language",
                f"'{self.language}' must be zh-TW or en",
                f"「{self.language}」須為 zh-TW 或 en",
            )
        if len(self.note) > MAX_NOTE:
            raise FieldError("note", f"is longer than {MAX_NOTE} characters", f"超過 {MAX_NOTE} 字")
        if self.wes_ref is not None and not WES_REF.match(self.wes_ref):
            raise FieldError(
                "wes_ref",
                f"'{self.wes_ref}' is not a WES reference number (7 digits, or PTTC and 7 "
                "digits, e.g. 6123456 or PTTC2001009)",
                f"「{self.wes_ref}」不是 WES reference number（7 位數字或 PTTC 加 7 位數字，"
                "例如 6123456、PTTC2001009）",
            )
        if self.asuid is not None and not _ASUID.match(self.asuid):
            raise FieldError(
                "asuid",
                f"'{self.asuid}' must be at most 40 letters, digits, spaces, '.', '_', '/' or '-'",
                f"「{self.asuid}」最多 40 個英數字、空格、'.'、'_'、'/' 或 '-'",
            )
        if not self.recipients:
            raise FieldError("recipient_email", "an order needs a recipient", "申請單需要收件人")
        emails = [r.email.lower() for r in self.recipients]
        if len(set(emails)) != len(emails):
            raise FieldError(
                "recipient_email",
                "the same address is listed twice in this order",
                "同一申請單重複列出相同地址",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "student_id": self.student_id,
            "doc_type": self.doc_type,
            "ordered_on": self.ordered_on.isoformat(),
            "recipients": [r.to_dict() for r in self.recipients],
            "language": self.language,
            "note": self.note,
            "wes_ref": self.wes_ref,
            "asuid": self.asuid,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Order:
        return cls(
            order_id=str(d["order_id"]),
            student_id=str(d["student_id"]),
            doc_type=str(d["doc_type"]),
            ordered_on=dt.date.fromisoformat(str(d["ordered_on"])),
            recipients=tuple(Recipient.from_dict(r) for r in d["recipients"]),
            language=str(d.get("language", "zh-TW")),
            note=str(d.get("note", "")),
            wes_ref=d.get("wes_ref"),
            asuid=d.get("asuid"),
        )


@dataclass(frozen=True)
class OrderRules:
    """A school's limits on an order's recipients."""

    max_recipients: int = 10
    max_per_kind: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.max_recipients <= 100:
            raise ValueError("max_recipients must be 1 to 100")
        for kind, n in self.max_per_kind.items():
            if kind not in RECIPIENT_KINDS or not isinstance(n, int) or n < 0:
                raise ValueError(f"max_per_kind: '{kind}' = {n!r} is not a kind and a count")

    def check(self, order: Order) -> None:
        if len(order.recipients) > self.max_recipients:
            raise FieldError(
                "recipient_email",
                f"order {order.order_id} has {len(order.recipients)} recipients; the school "
                f"allows at most {self.max_recipients}",
                f"申請單 {order.order_id} 有 {len(order.recipients)} 位收件人，"
                f"本校上限為 {self.max_recipients} 位",
            )
        for kind, limit in self.max_per_kind.items():
            n = sum(r.kind == kind for r in order.recipients)
            if n > limit:
                raise FieldError(
                    "recipient_kind",
                    f"order {order.order_id} has {n} '{kind}' recipients; the school allows "
                    f"{limit} per order (ask for another order)",
                    f"申請單 {order.order_id} 有 {n} 位「{kind}」收件人，本校每張申請單限 "
                    f"{limit} 位（請另行申請）",
                )


@dataclass(frozen=True)
class OrdersFile:
    """A parsed orders CSV: every order, or every problem (then nothing is imported)."""

    orders: tuple[Order, ...]
    rejected: tuple[RecordError, ...]
    lines: Mapping[str, int]  # order id -> the line of its first row


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"the CSV file is not UTF-8 (byte {e.start})",
            f"CSV 檔案不是 UTF-8 編碼（第 {e.start} 位元組）",
        ) from None


def parse_orders(data: bytes, rules: OrderRules, *, default_date: dt.date) -> OrdersFile:
    """Parse an orders CSV; rows of one order are grouped by ``order_id``."""
    reader = csv.DictReader(io.StringIO(_decode(data), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"the CSV file has no column {', '.join(missing)} (line 1)",
            f"CSV 檔案缺少欄位：{', '.join(missing)}（第 1 行）",
        )
    rejected: list[RecordError] = []
    heads: dict[str, tuple[int, dict[str, str]]] = {}
    recipients: dict[str, list[tuple[int, Recipient]]] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            rejected.append(
                RecordError(line, "(row)", "has more values than columns", "欄位數過多")
            )
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        oid = cells.get("order_id", "")
        if not oid:
            rejected.append(RecordError(line, "order_id", "is empty", "不可空白"))
            continue
        try:
            rec = Recipient(
                cells.get("recipient_kind", ""),
                cells.get("recipient_email", ""),
                cells.get("recipient_name", ""),
            )
        except FieldError as e:
            rejected.append(RecordError(line, e.field, e.en, e.zh))
            continue
        if oid in heads:
            first_line, first = heads[oid]
            for name in ORDER_FIELDS:
                if cells.get(name, "") != first.get(name, ""):
                    rejected.append(
                        RecordError(
                            line,
                            name,
                            f"differs from line {first_line} of the same order {oid}",
                            f"與同一申請單 {oid} 的第 {first_line} 行不同",
                        )
                    )
                    break
            else:
                recipients[oid].append((line, rec))
        else:
            heads[oid] = (line, cells)
            recipients[oid] = [(line, rec)]
    orders: list[Order] = []
    for oid, (line, cells) in heads.items():
        try:
            order = _order(oid, cells, [r for _, r in recipients[oid]], default_date)
            rules.check(order)
        except FieldError as e:
            rejected.append(RecordError(line, e.field, e.en, e.zh))
            continue
        orders.append(order)
    rejected.sort(key=lambda e: e.line)
    return OrdersFile(tuple(orders), tuple(rejected), {k: v[0] for k, v in heads.items()})


def _order(oid: str, cells: dict[str, str], recs: list[Recipient], default: dt.date) -> Order:
    text = cells.get("ordered_on", "")
    try:
        ordered_on = dt.date.fromisoformat(text) if text else default
    except ValueError:
        raise FieldError(
            "ordered_on",
            f"'{text}' is not a date (YYYY-MM-DD)",
            f"「{text}」不是日期（YYYY-MM-DD）",
        ) from None
    language = cells.get("language", "") or "zh-TW"
    return Order(
        order_id=oid,
        student_id=cells.get("student_id", ""),
        doc_type=cells.get("doc_type", ""),
        ordered_on=ordered_on,
        recipients=tuple(recs),
        language="zh-TW" if language.lower() in ("zh", "zh-tw") else language,
        note=cells.get("note", ""),
        wes_ref=cells.get("wes_ref", "").upper() or None,
        asuid=cells.get("asuid", "") or None,
    )
