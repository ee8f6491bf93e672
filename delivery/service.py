"""Delivery's operations over an open authority: import orders, plan, send, resend, what is due.

Delivery reads what the authority issued (``Authority.registry``, the PDFs in its home); the
authority never calls delivery. A run first *plans*: every active diploma gets a delivery to the
graduate's school and personal mailboxes, every document issued for an imported order (not held)
one per recipient and, with a WES reference number, one upload to WES. Then it *sends* what is
ready, recording each step in the outbox before and after it talks to a server:

- ``sending`` is committed before a message goes out, the outcome right after the server
  answers, and the next message starts only then. A crash therefore loses nobody (queued and
  interrupted deliveries are sent by the next run) and sends nobody twice, except at one edge:
  killed after the server accepted the message and before ``sent`` was committed, the next run
  sends it again, with the same Message-ID (docs/delivery.md).
- An SMTP server that cannot be used when the run opens its session stops the run before anything
  is recorded. One that fails later (a new session refused, a message cut at
  ``message_timeout`` or met by silence for a whole ``timeout``) defers the message in hand, and
  no more e-mail is tried in that run: each would wait as long or fail the same way. The rest
  stay queued for the next run, the uploads go ahead, and the report says how many e-mails wait
  and why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from authority.service import Authority
from certseal.doctypes import DIPLOMA_TYPES, document_type
from certseal.errors import CertsealError, RecordError
from certseal.timeutil import parse_time
from certseal.workdays import Calendar
from delivery.config import DeliveryConfig, SftpSettings, SmtpSettings, load_config
from delivery.errors import DeliveryConfigError, MailServerError, OrderError
from delivery.letters import LetterFacts, body, subject
from delivery.message import DkimKey, Letter, compose
from delivery.orders import Order, is_mail_address, parse_orders
from delivery.outbox import PENDING, PROBLEMS, DeliveryView, NewDelivery, OrderRecord, Outbox
from delivery.sftp import upload, wes_file_name
from delivery.smtp import Answer, SmtpSender

OUTBOX_NAME = "delivery.sqlite"
MAX_BACKOFF = dt.timedelta(days=1)


@dataclass(frozen=True)
class OrderImport:
    """What an orders import did: all of it, or (with ``rejected``) nothing."""

    added: int
    already: int
    held: int
    rejected: tuple[RecordError, ...]


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    address: str
    state: str
    answer: str


@dataclass(frozen=True)
class MailStopped:
    """The SMTP server failed during the run: ``left`` e-mails were not tried (nothing
    recorded for them) and wait for the next run; ``en`` and ``zh`` say why."""

    left: int
    en: str
    zh: str


@dataclass(frozen=True)
class RunReport:
    planned: int
    outcomes: tuple[Outcome, ...]
    waiting_held: int
    waiting_config: int
    mail_stopped: MailStopped | None = None

    def count(self, state: str) -> int:
        return sum(o.state == state for o in self.outcomes)


@dataclass(frozen=True)
class Owed:
    """One thing owed: a diploma not issued, an order not issued, a delivery not done."""

    kind: str  # diploma | order | delivery
    ref: str  # student id, order id or delivery id
    student_id: str
    doc_type: str
    since: dt.date
    due_by: dt.date | None
    overdue: bool
    state: str  # collected | waiting | held | queued | deferred | sending | bounced | failed
    detail: str = ""


Sending = Callable[[str, str, bytes], Answer]


class Delivery:
    """Delivery's operations; open it over an :class:`Authority` that holds the home's lock."""

    def __init__(self, auth: Authority, config: DeliveryConfig | None = None) -> None:
        self.auth = auth
        self.home = auth.home
        self.config = config if config is not None else load_config(auth.home)
        self.outbox = Outbox(auth.home / OUTBOX_NAME)

    def close(self) -> None:
        self.outbox.close()

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- orders --------------------------------------------------------------------------
    def import_orders(
        self, data: bytes, *, now: dt.datetime, actor: str, source: str
    ) -> OrderImport:
        """Import an orders CSV, all or nothing."""
        parsed = parse_orders(data, self.config.rules, default_date=now.date())
        rejected = list(parsed.rejected)
        already = 0
        for order in parsed.orders:
            line = parsed.lines[order.order_id]
            if self.auth.registry.latest_record("graduate", order.student_id) is None:
                rejected.append(
                    RecordError(
                        line,
                        "student_id",
                        f"no graduate {order.student_id} in the registry: import it first",
                        f"登錄資料中沒有學號 {order.student_id}，請先匯入",
                    )
                )
                continue
            existing = self.outbox.find_order(order.order_id)
            if existing is not None and existing != order:
                rejected.append(
                    RecordError(
                        line,
                        "order_id",
                        f"order {order.order_id} was already imported with other content; an "
                        "order is never changed: import it under a new order id",
                        f"申請單 {order.order_id} 已以不同內容匯入；申請單不可修改，請以新單號匯入",
                    )
                )
            already += existing is not None
        if rejected:
            return OrderImport(0, 0, 0, tuple(sorted(rejected, key=lambda e: e.line)))
        holds = [
            (o.order_id, f"waiting for approval ({o.doc_type})")
            for o in parsed.orders
            if o.doc_type in self.config.hold_for_approval
            and self.outbox.find_order(o.order_id) is None
        ]
        added = self.outbox.add_orders(
            parsed.orders, held=holds, at=now, actor=actor, source=source
        )
        return OrderImport(added, already, len(holds), ())

    def hold(self, order_id: str, reason: str, *, now: dt.datetime, actor: str) -> None:
        if not reason.strip():
            raise OrderError("say why the order is held", "請說明暫停原因")
        self.outbox.hold(order_id, reason.strip(), at=now, actor=actor)

    def release(self, order_id: str, reason: str | None, *, now: dt.datetime, actor: str) -> None:
        self.outbox.release(order_id, reason, at=now, actor=actor)

    def orders(self) -> list[OrderRecord]:
        return self.outbox.orders()

    def ready_orders(self) -> list[Order]:
        """Orders not held whose document is not issued yet: what ``issue-orders`` issues."""
        out = []
        for rec in self.outbox.orders():
            if not rec.held and self._issued_for(rec.order) is None:
                out.append(rec.order)
        return out

    def _issued_for(self, order: Order) -> str | None:
        for doc in self.auth.registry.documents(order.student_id):
            if doc.order_ref == order.order_id and doc.doc_type == order.doc_type:
                state = self.auth.registry.state(doc.doc_id)
                if state.state == "active":
                    return doc.doc_id
                if state.state == "superseded" and state.successor:
                    return state.successor
        return None

    # -- planning ------------------------------------------------------------------------
    @property
    def message_domain(self) -> str:
        if self.config.dkim is not None:
            return self.config.dkim.domain
        if self.config.sender is not None:
            return self.config.sender.rpartition("@")[2]
        return f"{self.auth.school.code.lower()}.certseal.invalid"

    def plan(self, *, now: dt.datetime, actor: str) -> list[str]:
        """Queue a delivery for every recipient of every active document that has none yet."""
        planned = self.outbox.planned_keys()
        done_docs = {k.split("|", 1)[0] for k in planned}
        orders = {r.order.order_id: r for r in self.outbox.orders()}
        new: list[NewDelivery] = []
        for doc in self.auth.registry.documents():
            is_diploma = doc.doc_type in DIPLOMA_TYPES
            rec = orders.get(doc.order_ref or "") if not is_diploma else None
            if not is_diploma and (
                rec is None
                or rec.held
                or rec.order.student_id != doc.student_id
                or rec.order.doc_type != doc.doc_type
            ):
                continue
            if doc.doc_id in done_docs or self.auth.registry.state(doc.doc_id).state != "active":
                continue
            if is_diploma:
                _, grad = self.auth.graduate(doc.student_id)
                new.append(
                    NewDelivery(
                        f"{doc.doc_id}|email|school",
                        doc.doc_id,
                        "email",
                        "school",
                        grad.school_email,
                        grad.name_en,
                    )
                )
                if grad.permanent_email and grad.permanent_email != grad.school_email:
                    new.append(
                        NewDelivery(
                            f"{doc.doc_id}|email|personal",
                            doc.doc_id,
                            "email",
                            "personal",
                            grad.permanent_email,
                            grad.name_en,
                        )
                    )
                continue
            assert rec is not None
            order = rec.order
            for r in order.recipients:
                new.append(
                    NewDelivery(
                        f"{doc.doc_id}|email|{r.kind}|{r.email.lower()}",
                        doc.doc_id,
                        "email",
                        r.kind,
                        r.email,
                        r.name,
                        order.order_id,
                    )
                )
            if order.wes_ref:
                new.append(
                    NewDelivery(
                        f"{doc.doc_id}|sftp|wes|{order.wes_ref}",
                        doc.doc_id,
                        "sftp",
                        "wes",
                        order.wes_ref,
                        "WES",
                        order.order_id,
                    )
                )
        return self.outbox.plan(new, domain=self.message_domain, at=now, actor=actor)

    def resend(
        self, doc_id: str, *, address: str | None = None, now: dt.datetime, actor: str
    ) -> list[str]:
        """A new delivery of a document (NKUST: "not received" within a month): to every
        recipient it had, or to one ``address``. Earlier deliveries keep their history."""
        self.auth.registry.document(doc_id)  # an unknown number is refused here
        if self.auth.registry.state(doc_id).state != "active":
            raise OrderError(
                f"document {doc_id} is not active: send its current version instead",
                f"文件 {doc_id} 已非有效版本：請改寄最新版本",
            )
        before = self.outbox.deliveries(doc_id=doc_id)
        n = sum(d.resend_of is not None for d in before) + 1
        if address is not None:
            if not is_mail_address(address):
                raise OrderError(
                    f"'{address}' is not an e-mail address", f"「{address}」不是電子郵件地址"
                )
            last = before[-1] if before else None
            items = [
                NewDelivery(
                    f"resend|{doc_id}|{n}|email|{address.lower()}",
                    doc_id,
                    "email",
                    "resend",
                    address,
                    "",
                    last.order_id if last else None,
                    last.delivery_id if last else None,
                )
            ]
        else:
            firsts: dict[tuple[str, str], DeliveryView] = {}
            for d in before:
                firsts.setdefault((d.channel, d.address.lower()), d)
            if not firsts:
                raise OrderError(
                    f"document {doc_id} has no delivery yet: run 'deliver' first",
                    f"文件 {doc_id} 尚未寄送：請先執行 deliver",
                )
            items = [
                NewDelivery(
                    f"resend|{doc_id}|{n}|{d.channel}|{d.address.lower()}",
                    doc_id,
                    d.channel,
                    d.kind,
                    d.address,
                    d.name,
                    d.order_id,
                    d.delivery_id,
                )
                for d in firsts.values()
            ]
        return self.outbox.plan(items, domain=self.message_domain, at=now, actor=actor)

    # -- sending -------------------------------------------------------------------------
    def _letter(self, d: DeliveryView, pdf: bytes) -> Letter:
        doc = self.auth.registry.document(d.doc_id)
        _, grad = self.auth.graduate(doc.student_id)
        school = self.auth.school
        order = self.outbox.find_order(d.order_id) if d.order_id else None
        facts = LetterFacts(
            school_zh=school.name_zh,
            school_en=school.name_en,
            registrar_zh=school.registrar_zh,
            registrar_en=school.registrar_en,
            verify_url=school.verify_url,
            doc_type=document_type(doc.doc_type),
            doc_id=doc.doc_id,
            version=doc.version,
            holder_zh=grad.name_zh,
            holder_en=grad.name_en,
            verification_limit=doc.verification_limit,
            recipient_kind=d.kind,
            order_id=order.order_id if order else None,
            note=order.note if order else "",
            wes_ref=order.wes_ref if order else None,
            asuid=order.asuid if order else None,
            english_first=bool(order and order.language == "en"),
        )
        sender = self.config.sender or f"registrar@{self.message_domain}"
        return Letter(
            delivery_id=d.delivery_id,
            message_id=d.message_id,
            sender=sender,
            sender_name=f"{school.name_zh} {school.registrar_zh} / {school.name_en}",
            to=d.address,
            to_name=d.name,
            subject=subject(facts),
            body=body(facts),
            queued_at=parse_time(d.created_at),
            attachment=pdf,
            filename=f"{doc.doc_id}.pdf",
            reply_to=self.config.reply_to,
        )

    def message(self, d: DeliveryView, pdf: bytes, dkim_key: DkimKey | None) -> bytes:
        raw = compose(self._letter(d, pdf))
        return dkim_key.sign(raw) if dkim_key is not None else raw

    def _document_bytes(self, doc_id: str) -> bytes | str:
        """The issued file, or why it cannot be sent (it must be the registered bytes)."""
        doc = self.auth.registry.document(doc_id)
        try:
            data = (self.home / doc.path).read_bytes()
        except OSError as e:
            return f"the issued file {doc.path} cannot be read: {e.strerror}"
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            return f"the file {doc.path} is not the one the registry recorded (SHA-256 differs)"
        return data

    def _dkim(self) -> DkimKey | None:
        k = self.config.dkim
        return (
            None if k is None else DkimKey.from_pem(k.domain, k.selector, k.private_key(self.home))
        )

    def _backoff(self, attempts: int) -> dt.timedelta:
        minutes = self.config.retry.first_delay_minutes * 2 ** min(attempts - 1, 20)
        return min(dt.timedelta(minutes=minutes), MAX_BACKOFF)

    def run(
        self,
        *,
        now: dt.datetime,
        actor: str,
        limit: int | None = None,
        progress: Callable[[Outcome], None] | None = None,
    ) -> RunReport:
        """Plan, then send what is ready (at most ``limit``), recording every step.

        Raises:
            MailServerError: the SMTP server cannot be used when the session is opened, before
                anything is recorded. Should it fail later, the run goes on without e-mail
                and :attr:`RunReport.mail_stopped` says so.
        """
        planned = len(self.plan(now=now, actor=actor))
        ready = self.outbox.ready(now)
        held = {r.order.order_id for r in self.outbox.orders() if r.held}
        waiting_held = sum(d.order_id in held for d in ready)
        ready = [d for d in ready if d.order_id not in held]
        waiting_config = 0
        if self.config.sftp is None:
            waiting_config = sum(d.channel == "sftp" for d in ready)
            ready = [d for d in ready if d.channel != "sftp"]
        emails = [d for d in ready if d.channel == "email"]
        if emails and (self.config.smtp is None or self.config.sender is None):
            raise DeliveryConfigError(
                f"{len(emails)} e-mail deliveries are ready but delivery.toml has no [smtp] "
                "server or no [mail] from address (docs/delivery.md)",
                f"有 {len(emails)} 封郵件待寄，但 delivery.toml 未設定 [smtp] 或 [mail] from",
            )
        if limit is not None:
            ready = ready[:limit]
        outcomes: list[Outcome] = []
        dkim_key = self._dkim() if emails else None
        # Opened before anything is recorded, so that a server unusable from the start stops
        # the run with nothing done rather than after some uploads.
        smtp = self._smtp() if any(d.channel == "email" for d in ready) else None
        stopped: MailServerError | None = None
        left = 0
        try:
            for d in ready:
                if d.channel == "email" and stopped is not None:
                    left += 1  # not tried: still queued or deferred, as it was
                    continue
                outcome = self._deliver_one(d, smtp, dkim_key, now=now, actor=actor)
                outcomes.append(outcome)
                if progress:
                    progress(outcome)
                if d.channel == "email" and smtp is not None and smtp.failure is not None:
                    stopped = smtp.failure
        finally:
            if smtp is not None:
                smtp.close()
        mail_stopped = None
        if stopped is not None:
            mail_stopped = MailStopped(left, stopped.message("en"), stopped.message("zh-TW"))
        return RunReport(planned, tuple(outcomes), waiting_held, waiting_config, mail_stopped)

    def _smtp(self) -> SmtpSender:
        s = self.config.smtp
        assert s is not None
        sender = SmtpSender(s, s.password(self.home), self.home / s.ca_file if s.ca_file else None)
        sender.open()
        return sender

    def _deliver_one(
        self,
        d: DeliveryView,
        smtp: SmtpSender | None,
        dkim_key: DkimKey | None,
        *,
        now: dt.datetime,
        actor: str,
    ) -> Outcome:
        state = self.auth.registry.state(d.doc_id)
        if state.state != "active":
            why = f"the document was {state.state} before it was delivered"
            self.outbox.record(d.delivery_id, "cancelled", at=now, actor=actor, answer=why)
            return Outcome(d.delivery_id, d.address, "cancelled", why)
        pdf = self._document_bytes(d.doc_id)
        if isinstance(pdf, str):
            self.outbox.record(d.delivery_id, "failed", at=now, actor=actor, answer=pdf)
            return Outcome(d.delivery_id, d.address, "failed", pdf)
        if d.channel == "email":
            assert smtp is not None and self.config.sender is not None
            data = self.message(d, pdf, dkim_key)
            self.outbox.record(d.delivery_id, "sending", at=now, actor=actor)
            answer = smtp.send(self.config.sender, d.address, data)
        else:
            self.outbox.record(d.delivery_id, "sending", at=now, actor=actor)
            answer = self._upload(d, pdf)
        state_name, retry_at = answer.outcome, None
        if answer.outcome == "deferred":
            attempts = d.attempts + 1
            if attempts >= self.config.retry.max_attempts:
                self.outbox.record(
                    d.delivery_id,
                    "deferred",
                    at=now,
                    actor=actor,
                    code=answer.code,
                    answer=answer.text,
                )
                state_name = "failed"
                text = f"gave up after {attempts} attempts; last answer {answer.text}"
                self.outbox.record(d.delivery_id, "failed", at=now, actor=actor, answer=text)
                return Outcome(d.delivery_id, d.address, state_name, text)
            retry_at = now + self._backoff(attempts)
        self.outbox.record(
            d.delivery_id,
            state_name,
            at=now,
            actor=actor,
            code=answer.code,
            answer=answer.text,
            retry_at=retry_at,
        )
        return Outcome(d.delivery_id, d.address, state_name, answer.text)

    def _upload(self, d: DeliveryView, pdf: bytes) -> Answer:
        s = self.config.sftp
        assert s is not None
        try:
            done = upload(s, self.home / s.key_file, wes_file_name(d.address, d.doc_id), pdf)
        except DeliveryConfigError:
            raise
        except CertsealError as e:
            # Host key refused, key refused, server down: recorded, retried with backoff.
            return Answer("deferred", 0, e.message("en")[:500])
        return Answer("sent", 0, f"uploaded {done.remote_path} ({done.size} bytes)")

    # -- what is owed --------------------------------------------------------------------
    def calendar(self) -> Calendar:
        return self.config.deadlines.load_calendar(self.home)

    def due(self, today: dt.date) -> list[Owed]:
        """Everything owed: diplomas, orders not issued, deliveries pending or bounced."""
        cal = self.calendar()
        days = self.config.deadlines.diploma_working_days
        out = [
            Owed(
                "diploma",
                i.student_id,
                i.student_id,
                i.doc_type,
                i.collected_on,
                i.due_by,
                i.overdue,
                "collected",
            )
            for i in self.auth.due(today, calendar=cal, working_days=days)
        ]
        for rec in self.outbox.orders():
            o = rec.order
            if self._issued_for(o) is not None:
                continue
            by = cal.add_working_days(o.ordered_on, self.config.deadlines.for_order(o.doc_type))
            out.append(
                Owed(
                    "order",
                    o.order_id,
                    o.student_id,
                    o.doc_type,
                    o.ordered_on,
                    by,
                    today > by and not rec.held,
                    "held" if rec.held else "waiting",
                    rec.hold_reason or "",
                )
            )
        for d in self.outbox.deliveries(states=PENDING | PROBLEMS):
            doc = self.auth.registry.document(d.doc_id)
            since = parse_time(d.created_at).date()
            if d.order_id is not None:
                order = self.outbox.find_order(d.order_id)
                base = order.ordered_on if order else since
                by = cal.add_working_days(base, self.config.deadlines.for_order(doc.doc_type))
            else:
                collected = self.auth.registry.collection(doc.student_id, doc.doc_type)
                by = cal.add_working_days(collected or since, days)
            out.append(
                Owed(
                    "delivery",
                    d.delivery_id,
                    doc.student_id,
                    doc.doc_type,
                    since,
                    by,
                    d.state in PROBLEMS or today > by,
                    d.state,
                    f"{d.channel} to {d.address}" + (f": {d.answer}" if d.answer else ""),
                )
            )
        return out


def with_servers(
    config: DeliveryConfig,
    *,
    smtp: SmtpSettings | None = None,
    sftp: SftpSettings | None = None,
    sender: str | None = None,
) -> DeliveryConfig:
    """The configuration with other servers (the demo's local sinks)."""
    return replace(
        config,
        smtp=smtp or config.smtp,
        sftp=sftp or config.sftp,
        sender=config.sender or sender,
    )


def describe(items: Iterable[Owed]) -> list[str]:
    return [
        f"{o.kind:<8} {o.ref:<28} {o.student_id:<11} {o.doc_type:<22} {o.state:<9} "
        f"due {o.due_by or '-'}"
        + ("  OVERDUE" if o.overdue else "")
        + (f"  {o.detail}" if o.detail else "")
        for o in items
    ]


__all__ = [
    "Delivery",
    "MailStopped",
    "OrderImport",
    "Outcome",
    "Owed",
    "RunReport",
    "describe",
    "with_servers",
]
