"""``certseal authority`` commands for delivery: orders, hold/release, deliver, deliveries,
resend, and ``due`` (everything owed). Registered on the authority group by
:func:`register`; the library is ``delivery.service``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from authority.production import ParallelProducer
from authority.service import IssueRequest
from certseal.errors import InputError
from cli.authority_cmds import EXIT_PARTIAL, _Ctx, get_passphrase, pass_ctx
from delivery.config import load_config
from delivery.outbox import DeliveryView
from delivery.service import Delivery, Outcome, Owed, describe, with_servers
from delivery.sink import mail_sink, sftp_sink


@contextmanager
def _delivery(c: _Ctx) -> Iterator[Delivery]:
    with c.open() as auth, Delivery(auth) as d:
        yield d


def _view_json(d: DeliveryView) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "doc_id": d.doc_id,
        "order_id": d.order_id,
        "channel": d.channel,
        "kind": d.kind,
        "address": d.address,
        "message_id": d.message_id,
        "resend_of": d.resend_of,
        "state": d.state,
        "at": d.state_at,
        "code": d.code,
        "answer": d.answer,
        "retry_at": d.retry_at,
        "attempts": d.attempts,
    }


def import_orders(c: _Ctx, csv_file: Any) -> None:
    """``import orders FILE``: all or nothing; every bad row listed by line and field."""
    with _delivery(c) as d:
        rep = d.import_orders(
            csv_file.read(), now=c.now, actor=c.actor, source=Path(csv_file.name).name
        )
    rejected = [{"line": e.line, "field": e.field, "error": e.message("en")} for e in rep.rejected]
    if rejected:
        lines = [f"Nothing imported: {len(rejected)} problems (fix them and import again)."]
        lines += [f"  {e.message('en')}" for e in rep.rejected]
    else:
        lines = [
            f"{rep.added} orders imported ({rep.held} held for approval), "
            f"{rep.already} already imported."
        ]
    c.emit(
        {"imported": rep.added, "already": rep.already, "held": rep.held, "rejected": rejected},
        "\n".join(lines),
    )
    if rejected:
        raise SystemExit(InputError.exit_code)


@click.command("orders")
@pass_ctx
def orders(c: _Ctx) -> None:
    """List imported orders: held or not, and the document issued for each."""
    with _delivery(c) as d:
        rows = [(r, d._issued_for(r.order)) for r in d.orders()]
    data = [
        {**r.order.to_dict(), "held": r.held, "hold_reason": r.hold_reason, "doc_id": doc}
        for r, doc in rows
    ]
    text = "\n".join(
        f"{r.order.order_id:<16} {r.order.student_id:<11} {r.order.doc_type:<22} "
        f"{len(r.order.recipients)} recipients"
        + (f"  WES {r.order.wes_ref}" if r.order.wes_ref else "")
        + (f"  HELD: {r.hold_reason}" if r.held else "")
        + (f"  issued {doc}" if doc else "")
        for r, doc in rows
    )
    c.emit(data, text or "No orders imported yet.")


@click.command()
@click.argument("order_id")
@click.option("--reason", required=True, help="Why (e.g. waiting for the ID copy).")
@pass_ctx
def hold(c: _Ctx, order_id: str, reason: str) -> None:
    """Hold an order: nothing is issued or delivered for it until it is released."""
    with _delivery(c) as d:
        d.hold(order_id, reason, now=c.now, actor=c.actor)
    c.emit({"order_id": order_id, "held": True}, f"Order {order_id} held: {reason}")


@click.command()
@click.argument("order_id")
@click.option("--reason", default=None, help="Why (e.g. ID copy received).")
@pass_ctx
def release(c: _Ctx, order_id: str, reason: str | None) -> None:
    """Release a held order: it is issued and delivered like any other."""
    with _delivery(c) as d:
        d.release(order_id, reason, now=c.now, actor=c.actor)
    c.emit({"order_id": order_id, "held": False}, f"Order {order_id} released.")


@click.command("issue-orders")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@pass_ctx
def issue_orders(c: _Ctx, workers: int | None) -> None:
    """Issue the document of every imported order that is not held and not issued yet."""
    passphrase = get_passphrase()
    with _delivery(c) as d:
        requests = [IssueRequest(o.doc_type, o.student_id, o.order_id) for o in d.ready_orders()]
        with ParallelProducer(d.auth.keys_dir, passphrase, workers) as produce:
            report = d.auth.issue(requests, now=c.now, actor=c.actor, produce=produce)
    data = {
        "issued": [{"doc_id": r.doc_id, "order_id": r.order_ref} for r in report.issued],
        "failed": [{"order_id": r.order_ref, "error": e.message("en")} for r, e in report.failed],
    }
    lines = [f"{len(report.issued)} issued, {len(report.failed)} failed."]
    lines += [f"  {r.doc_id}  order {r.order_ref}" for r in report.issued]
    lines += [f"  failed: order {r.order_ref}: {e.message('en')}" for r, e in report.failed]
    c.emit(data, "\n".join(lines))
    if report.failed:
        raise SystemExit(EXIT_PARTIAL)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N.")
@click.option(
    "--smtp-sink",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Demo: deliver to a local SMTP sink that keeps each message as an .eml file in DIR.",
)
@click.option(
    "--sftp-sink",
    "sftp_sink_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Demo: upload WES files to a local SFTP server over DIR.",
)
@pass_ctx
def deliver(c: _Ctx, limit: int | None, smtp_sink: Path | None, sftp_sink_dir: Path | None) -> None:
    """Send every delivery that is ready: new documents, retries whose time came."""
    with ExitStack() as stack:
        config = load_config(c.home)
        smtp = stack.enter_context(mail_sink(smtp_sink)) if smtp_sink else None
        sftp = None
        if sftp_sink_dir is not None:
            keys = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            sftp = stack.enter_context(sftp_sink(sftp_sink_dir, keys))
        if smtp or sftp:
            config = with_servers(config, smtp=smtp, sftp=sftp, sender="registrar@example.edu")
        auth = stack.enter_context(c.open())
        d = stack.enter_context(Delivery(auth, config))

        def show(o: Outcome) -> None:
            if not c.as_json:
                click.echo(f"  {o.state:<9} {o.delivery_id:<28} {o.address}", err=True)

        report = d.run(now=c.now, actor=c.actor, limit=limit, progress=show)
    counts = {s: report.count(s) for s in ("sent", "deferred", "bounced", "failed", "cancelled")}
    stopped = report.mail_stopped
    data = {
        "planned": report.planned,
        **counts,
        "waiting_held": report.waiting_held,
        "waiting_sftp_config": report.waiting_config,
        "waiting_mail_server": stopped.left if stopped else 0,
        "mail_server_error": stopped.en if stopped else None,
        "outcomes": [o.__dict__ for o in report.outcomes],
    }
    lines = [
        f"{report.planned} new deliveries queued; "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + "."
    ]
    if report.waiting_held:
        lines.append(f"{report.waiting_held} wait for held orders.")
    if report.waiting_config:
        lines.append(f"{report.waiting_config} WES uploads wait: no [sftp] in delivery.toml.")
    if stopped:
        lines.append(
            f"{stopped.left} e-mails were not tried and wait for the next run: the mail server "
            f"failed during this run ({stopped.en})."
        )
        lines.append(
            f"{stopped.left} 封郵件本次未寄出，留待下次執行："
            f"寄送途中郵件伺服器無法使用（{stopped.zh}）。"
        )
    lines += [
        f"  {o.state}: {o.delivery_id} to {o.address}: {o.answer}"
        for o in report.outcomes
        if o.state in ("bounced", "failed")
    ]
    if smtp_sink:
        lines.append(f"Messages kept in {smtp_sink}/ (.eml files).")
    if sftp_sink_dir:
        lines.append(f"WES uploads in {sftp_sink_dir}/.")
    c.emit(data, "\n".join(lines))
    # Deferred deliveries were tried and retry on their own; e-mails the run never tried are
    # part of its work left undone, like a bounce or a failure (docs/delivery.md).
    if counts["bounced"] or counts["failed"] or (stopped and stopped.left):
        raise SystemExit(EXIT_PARTIAL)


@click.command()
@click.option("--problems", is_flag=True, help="Only bounced and failed deliveries.")
@click.option("--doc", "doc_id", default=None, help="Only this document's deliveries.")
@click.option("--history", "history", default=None, help="Every step of one delivery.")
@pass_ctx
def deliveries(c: _Ctx, problems: bool, doc_id: str | None, history: str | None) -> None:
    """The outbox: each delivery's state and the server's last answer."""
    with _delivery(c) as d:
        if history:
            events = d.outbox.events(history)
            view = d.outbox.delivery(history)
            c.emit(
                {**_view_json(view), "events": [e.__dict__ for e in events]},
                "\n".join(
                    [f"{view.delivery_id}  {view.channel} to {view.address}  {view.message_id}"]
                    + [
                        f"  {e.at}  {e.state:<9} by {e.actor}"
                        + (f"  {e.answer}" if e.answer else "")
                        + (f"  retry at {e.retry_at}" if e.retry_at else "")
                        for e in events
                    ]
                ),
            )
            return
        rows = d.outbox.deliveries(
            states=("bounced", "failed") if problems else None, doc_id=doc_id
        )
    text = "\n".join(
        f"{v.delivery_id:<28} {v.channel:<5} {v.kind:<11} {v.address:<32} {v.state:<9}"
        + (f" {v.answer}" if v.answer and v.state != "sent" else "")
        for v in rows
    )
    c.emit([_view_json(v) for v in rows], text or "No deliveries.")


@click.command()
@click.argument("doc_id")
@click.option("--to", "address", default=None, help="One new address instead of the same ones.")
@pass_ctx
def resend(c: _Ctx, doc_id: str, address: str | None) -> None:
    """Send a document again (a new delivery; the earlier ones keep their history)."""
    with _delivery(c) as d:
        new = d.resend(doc_id, address=address, now=c.now, actor=c.actor)
    c.emit(new, f"{len(new)} deliveries queued: {', '.join(new)}. Run 'deliver' to send them.")


def _owed_json(o: Owed) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "ref": o.ref,
        "student_id": o.student_id,
        "type": o.doc_type,
        "since": o.since.isoformat(),
        "due_by": o.due_by.isoformat() if o.due_by else None,
        "overdue": o.overdue,
        "state": o.state,
        "detail": o.detail,
        # the diploma rows keep the fields 'due' always had
        **({"collected_on": o.since.isoformat()} if o.kind == "diploma" else {}),
    }


@click.command()
@pass_ctx
def due(c: _Ctx) -> None:
    """Everything owed: diplomas (5 working days after the paper one is collected), orders
    (1-3 working days), deliveries pending or bounced. Working days skip weekends and the
    holidays of the calendar in delivery.toml (Taiwan 2026-2027 by default)."""
    with _delivery(c) as d:
        items = d.due(c.now.date())
    c.emit([_owed_json(o) for o in items], "\n".join(describe(items)) or "Nothing is due.")


def register(authority: click.Group) -> None:
    """Add delivery's commands to ``certseal authority``: ``import`` learns ``orders`` and
    ``due`` shows everything owed (it replaces the diplomas-only listing)."""
    original = authority.commands["import"]
    assert isinstance(original, click.Command) and original.callback is not None
    kinds = ["graduates", "courses", "ranks", "orders"]

    @click.command("import")
    @click.argument("kind", type=click.Choice(kinds))
    @click.argument("csv_file", type=click.File("rb"))
    @click.pass_context
    def import_(ctx: click.Context, kind: str, csv_file: Any) -> None:
        """Import a CSV export: graduates, courses, ranks, or orders (docs/delivery.md)."""
        if kind == "orders":
            c = ctx.find_object(_Ctx)
            assert c is not None
            import_orders(c, csv_file)
        else:
            ctx.invoke(original, kind=kind, csv_file=csv_file)

    for cmd in (import_, orders, hold, release, issue_orders, deliver, deliveries, resend, due):
        authority.add_command(cmd)
