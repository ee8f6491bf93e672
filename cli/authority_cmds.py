"""``certseal authority``: the registrar's commands (offline)."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from authority.config import DEMO_SCHOOL, School
from authority.hsm import HsmSettings
from authority.keys import HSM_ROLES, public_material
from authority.ltv import extension_services
from authority.onboarding import prepare_request
from authority.production import ParallelProducer, Producer
from authority.registry import REISSUE_REASONS, Reissue
from authority.rotation import ROTATABLE, Successor, key_compromised, load_successor, rotate_key
from authority.service import Authority, IssueRequest, init_authority
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import CertsealError, ConfigurationError, InputError, PassphraseError
from certseal.files import write_file
from certseal.statuslist import REASON_CODES
from certseal.timeutil import format_time, parse_time, utcnow

PASSPHRASE_ENV = "CERTSEAL_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
EXIT_PARTIAL = 5


def default_home() -> Path:
    env = os.environ.get("CERTSEAL_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "certseal" / "authority"


def get_passphrase(confirm: bool = False) -> str:
    """From the environment, else a prompt: never from the command line."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal to be asked",
            f"沒有密碼：請設定 {PASSPHRASE_ENV} 或在終端機執行以輸入",
        )
    value: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


class _Ctx:
    def __init__(self, home: Path, now: dt.datetime, actor: str, as_json: bool) -> None:
        self.home = home
        self.now = now
        self.actor = actor
        self.as_json = as_json

    @contextmanager
    def open(self) -> Iterator[Authority]:
        with Authority(self.home) as auth:
            yield auth

    def emit(self, data: Any, text: str) -> None:
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            click.echo(text)


pass_ctx = click.make_pass_decorator(_Ctx)


@click.group()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_home,
    show_default="$CERTSEAL_HOME or ~/.local/share/certseal/authority",
    help="The authority's home folder (keys, registry, documents). Outside the code checkout.",
)
@click.option("--actor", default=None, help="Who does this, for the registry [default: login].")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--now", "now_text", hidden=True, help="Reference time (RFC 3339 UTC), for tests.")
@click.pass_context
def authority(
    ctx: click.Context, home: Path, actor: str | None, as_json: bool, now_text: str | None
) -> None:
    """The registrar's offline signing authority.

    Passphrases come from $CERTSEAL_PASSPHRASE or a prompt, never from the command line.
    """
    now = parse_time(now_text, "--now") if now_text else utcnow()
    ctx.obj = _Ctx(
        home, now, actor or os.environ.get("CERTSEAL_ACTOR") or getpass.getuser(), as_json
    )


@authority.command()
@click.option(
    "--school",
    "school_file",
    type=click.File("rb"),
    help="JSON file describing the school (see docs/authority.md).",
)
@click.option("--demo", is_flag=True, help="Use the fictional demo school.")
@click.option(
    "--import-p12",
    "p12_file",
    type=click.File("rb"),
    help="Import the document-signing key and certificate from a PKCS#12 file.",
)
@click.option(
    "--root",
    "root_file",
    type=click.File("rb"),
    help="The CA's root certificate, when the PKCS#12 file lacks it.",
)
@click.option(
    "--hsm-module",
    default=None,
    help="Generate the document-signing key on an HSM: its PKCS#11 module "
    "(e.g. /usr/lib/softhsm/libsofthsm2.so). The PIN comes from $CERTSEAL_HSM_PIN.",
)
@click.option("--hsm-token", default=None, help="The HSM token's label (with --hsm-module).")
@click.option(
    "--hsm-role",
    "hsm_roles",
    type=click.Choice(HSM_ROLES),
    multiple=True,
    help="Which key the HSM holds (repeat for both; default: signing).",
)
@pass_ctx
def init(
    c: _Ctx,
    school_file: Any,
    demo: bool,
    p12_file: Any,
    root_file: Any,
    hsm_module: str | None,
    hsm_token: str | None,
    hsm_roles: tuple[str, ...],
) -> None:
    """Set up the authority: keys (new, or imported from PKCS#12) and an empty registry."""
    if bool(hsm_module) != bool(hsm_token) or (hsm_module and p12_file):
        raise InputError(
            "give --hsm-module and --hsm-token together, and not with --import-p12",
            "--hsm-module 與 --hsm-token 須一併提供，且不可與 --import-p12 同用",
        )
    hsm = HsmSettings(hsm_module, hsm_token) if hsm_module and hsm_token else None
    if hsm_roles and hsm is None:
        raise InputError(
            "--hsm-role needs --hsm-module and --hsm-token",
            "--hsm-role 須搭配 --hsm-module 與 --hsm-token",
        )
    if bool(school_file) == demo:
        raise InputError(
            "give exactly one of --school FILE or --demo", "請擇一提供 --school 或 --demo"
        )
    if demo:
        school = DEMO_SCHOOL
    else:
        try:
            school = School.from_dict(json.load(school_file))
        except (ValueError, TypeError) as e:
            raise InputError(
                f"the school file is not valid JSON: {e}", "學校設定檔不是有效的 JSON"
            ) from None
    passphrase = get_passphrase(confirm=True)
    p12 = p12_file.read() if p12_file else None
    p12_pass = _p12_password() if p12 is not None else ""
    init_authority(
        c.home,
        school,
        passphrase,
        c.now,
        p12=p12,
        p12_passphrase=p12_pass,
        root_pem=root_file.read() if root_file else None,
        hsm=hsm,
        hsm_roles=hsm_roles or ("signing",),
    )
    c.emit(
        {"home": str(c.home), "school": school.code},
        f"Authority for {school.name_en} ({school.name_zh}) set up in {c.home}.\n"
        f"Public trust material: {c.home / 'keys' / 'root.pem'}, "
        f"{c.home / 'keys' / 'statuslist.pem'}",
    )


def _p12_password() -> str:
    """A PKCS#12 file's password: from CERTSEAL_P12_PASSPHRASE, else asked at a terminal."""
    p12_pass = os.environ.get("CERTSEAL_P12_PASSPHRASE", "")
    if not p12_pass and sys.stdin.isatty():
        p12_pass = click.prompt("PKCS#12 password", hide_input=True, default="", show_default=False)
    return p12_pass


def _successor(p12_file: Any) -> Successor | None:
    return load_successor(p12_file.read(), _p12_password()) if p12_file else None


_IMPORT_SUCCESSOR = click.option(
    "--import-p12",
    "p12_file",
    type=click.File("rb"),
    help="The new key: the document-signing key and certificate an outside CA issued, from a "
    "PKCS#12 file (its password from $CERTSEAL_P12_PASSPHRASE), instead of one certified by "
    "the school's root.",
)


@authority.command("import")
@click.argument("kind", type=click.Choice(["graduates", "courses", "ranks"]))
@click.argument("csv_file", type=click.File("rb"))
@pass_ctx
def import_(c: _Ctx, kind: str, csv_file: Any) -> None:
    """Import records from a CSV export (graduates, courses or ranks)."""
    with c.open() as auth:
        report, added = auth.import_records(
            kind, csv_file.read(), now=c.now, actor=c.actor, source=Path(csv_file.name).name
        )
    rejected = [
        {"line": e.line, "field": e.field, "error": e.message("en")} for e in report.rejected
    ]
    lines = [
        f"{len(report.accepted)} rows accepted ({added} new or changed), {len(rejected)} rejected."
    ]
    lines += [f"  rejected: {e.message('en')}" for e in report.rejected]
    c.emit({"accepted": len(report.accepted), "new": added, "rejected": rejected}, "\n".join(lines))
    if rejected:
        raise SystemExit(EXIT_PARTIAL)


@authority.command("fix-name")
@click.argument("student_id")
@click.argument("name_en")
@pass_ctx
def fix_name(c: _Ctx, student_id: str, name_en: str) -> None:
    """Correct a graduate's English name (passport spelling). Reissue documents afterwards."""
    with c.open() as auth:
        grad = auth.fix_english_name(student_id, name_en, now=c.now, actor=c.actor)
    c.emit({"student_id": student_id, "name_en": grad.name_en}, f"English name now: {grad.name_en}")


@authority.command()
@click.argument("student_ids", nargs=-1)
@click.option("--on", "on", default=None, help="Date collected (YYYY-MM-DD) [default: today].")
@click.option(
    "--type", "doc_type", type=click.Choice(["diploma_zh", "diploma_en"]), default="diploma_zh"
)
@click.option("--csv", "csv_file", type=click.File("rb"), help="CSV with student_id,collected_on.")
@pass_ctx
def collected(
    c: _Ctx, student_ids: tuple[str, ...], on: str | None, doc_type: str, csv_file: Any
) -> None:
    """Record that graduates collected their paper diploma (the digital one is then due)."""
    items: list[tuple[str, dt.date]] = []
    try:
        default_day = dt.date.fromisoformat(on) if on else c.now.date()
    except ValueError:
        raise InputError(f"'{on}' is not a date (YYYY-MM-DD)", f"「{on}」不是日期") from None
    items += [(s, default_day) for s in student_ids]
    if csv_file is not None:
        reader = csv.DictReader(io.StringIO(csv_file.read().decode("utf-8-sig")))
        for row in reader:
            try:
                items.append(
                    (row["student_id"].strip(), dt.date.fromisoformat(row["collected_on"].strip()))
                )
            except (KeyError, ValueError, AttributeError):
                raise InputError(
                    f"line {reader.line_num}: needs student_id and collected_on (YYYY-MM-DD)",
                    f"第 {reader.line_num} 行：需要 student_id 與 collected_on",
                ) from None
    if not items:
        raise InputError("name at least one student id, or give --csv", "請提供學號或 --csv")
    new = 0
    with c.open() as auth:
        for sid, day in items:
            new += auth.record_collection(sid, day, doc_type=doc_type, now=c.now, actor=c.actor)
    c.emit(
        {"recorded": new, "already": len(items) - new},
        f"{new} recorded, {len(items) - new} already recorded.",
    )


@authority.command()
@pass_ctx
def due(c: _Ctx) -> None:
    """List digital diplomas owed (paper collected; due within 5 working days)."""
    with c.open() as auth:
        items = auth.due(c.now.date())
    data = [
        {
            "student_id": i.student_id,
            "type": i.doc_type,
            "collected_on": i.collected_on.isoformat(),
            "due_by": i.due_by.isoformat(),
            "overdue": i.overdue,
        }
        for i in items
    ]
    text = "\n".join(
        f"{i.student_id}  {i.doc_type:<11} collected {i.collected_on}  due by {i.due_by}"
        + ("  OVERDUE" if i.overdue else "")
        for i in items
    )
    c.emit(data, text or "Nothing is due.")


@authority.command()
@click.option("--due", "all_due", is_flag=True, help="Issue every digital diploma that is due.")
@click.option(
    "--type", "doc_type", type=click.Choice(sorted(DOCUMENT_TYPES)), help="Document type."
)
@click.option("--student", "students", multiple=True, help="Student id (repeatable).")
@click.option("--order", "order_ref", help="Order reference (transcripts and certificates).")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--group-size", type=int, default=50, hidden=True, help="Documents per commit.")
@pass_ctx
def issue(
    c: _Ctx,
    group_size: int,
    all_due: bool,
    doc_type: str | None,
    students: tuple[str, ...],
    order_ref: str | None,
    workers: int | None,
) -> None:
    """Issue signed documents: every due diploma (--due), or --type with --student."""
    if all_due == bool(doc_type):
        raise InputError(
            "give --due, or --type with --student", "請提供 --due，或 --type 與 --student"
        )
    if doc_type and not students:
        raise InputError("--type needs at least one --student", "--type 需搭配 --student")
    passphrase = get_passphrase()
    with c.open() as auth:
        if all_due:
            requests = [IssueRequest(i.doc_type, i.student_id) for i in auth.due(c.now.date())]
        else:
            assert doc_type is not None
            requests = [IssueRequest(doc_type, s, order_ref) for s in students]
        with (
            ParallelProducer(auth.keys_dir, passphrase, workers) as produce,
            click.progressbar(length=len(requests), label="Issuing", file=sys.stderr) as bar,
        ):
            report = auth.issue(
                requests,
                now=c.now,
                actor=c.actor,
                produce=produce,
                progress=bar.update,
                group_size=group_size,
            )
    data = {
        "issued": [_doc_json(d) for d in report.issued],
        "already_issued": [d.doc_id for d in report.already],
        "failed": [
            {"student_id": r.student_id, "type": r.doc_type, "error": e.message("en")}
            for r, e in report.failed
        ],
    }
    lines = [
        f"{len(report.issued)} issued, {len(report.already)} already issued, "
        f"{len(report.failed)} failed."
    ]
    lines += [f"  {d.doc_id}  {d.doc_type:<22} {d.student_id}  {d.path}" for d in report.issued]
    lines += [f"  failed: {r.student_id} {r.doc_type}: {e.message('en')}" for r, e in report.failed]
    c.emit(data, "\n".join(lines))
    if report.failed:
        raise SystemExit(EXIT_PARTIAL)


def _doc_json(d: Any) -> dict[str, Any]:
    return {
        "doc_id": d.doc_id,
        "type": d.doc_type,
        "student_id": d.student_id,
        "version": d.version,
        "sha256": d.sha256,
        "path": d.path,
        "issued_at": d.issued_at,
        "verification_limit": d.verification_limit,
    }


@authority.command()
@click.argument("doc_id")
@click.option(
    "--reason",
    "reason_code",
    type=click.Choice(sorted(REISSUE_REASONS)),
    required=True,
    help="Why the document is reissued (kept in the registry only).",
)
@click.option("--note", default="", help="More about why (required with --reason other).")
@click.option(
    "--void",
    is_flag=True,
    help="The old version becomes void (verification fails) instead of superseded (a warning).",
)
@pass_ctx
def reissue(c: _Ctx, doc_id: str, reason_code: str, note: str, void: bool) -> None:
    """Reissue (補發) a document: a new version; the old one becomes superseded, or void."""
    why = Reissue(reason_code, note.strip(), void)
    passphrase = get_passphrase()
    with c.open() as auth:
        row = auth.reissue(
            doc_id,
            now=c.now,
            actor=c.actor,
            produce=Producer(auth.keys_dir, passphrase),
            why=why,
        )
    old_state = "void" if void else "superseded"
    c.emit(
        {**_doc_json(row), "replaces": doc_id, "old_version": old_state, "reason": reason_code},
        f"{row.doc_id} issued (version {row.version}); {doc_id} is now {old_state}.",
    )


@authority.command()
@click.argument("doc_id")
@click.option(
    "--reason-code", required=True, type=click.Choice(sorted(REASON_CODES)), help="Why, as a code."
)
@click.option("--reason", required=True, help="Why, in words (kept in the registry only).")
@pass_ctx
def revoke(c: _Ctx, doc_id: str, reason_code: str, reason: str) -> None:
    """Revoke a document (permanent)."""
    with c.open() as auth:
        auth.revoke(doc_id, reason_code, reason, now=c.now, actor=c.actor)
    c.emit(
        {"doc_id": doc_id, "revoked": True, "reason_code": reason_code},
        f"{doc_id} revoked ({reason_code}).",
    )


@authority.command("list")
@click.option("--student", default=None, help="Only this student's documents.")
@pass_ctx
def list_(c: _Ctx, student: str | None) -> None:
    """List issued documents and their current state."""
    with c.open() as auth:
        rows = [(d, auth.registry.state(d.doc_id)) for d in auth.registry.documents(student)]
    data = [{**_doc_json(d), "state": s.state, "successor": s.successor} for d, s in rows]
    text = "\n".join(
        f"{d.doc_id}  {d.doc_type:<22} {d.student_id:<12} v{d.version}  {s.state}"
        + (f" → {s.successor}" if s.successor else "")
        for d, s in rows
    )
    c.emit(data, text or "No documents issued yet.")


@authority.command()
@click.argument("doc_id")
@pass_ctx
def show(c: _Ctx, doc_id: str) -> None:
    """Show one document and every event in its history."""
    with c.open() as auth:
        doc = auth.registry.document(doc_id)
        events = auth.registry.events(doc_id)
        state = auth.registry.state(doc_id)
    data = {
        **_doc_json(doc),
        "state": state.state,
        "events": [
            {
                "seq": e.seq,
                "kind": e.kind,
                "at": e.at,
                "actor": e.actor,
                "reason_code": e.reason_code,
                "reason": e.reason,
                "successor": e.successor,
            }
            for e in events
        ],
    }
    lines = [
        f"{doc.doc_id}  {doc.doc_type}  student {doc.student_id}  version {doc.version}",
        f"sha256 {doc.sha256}",
        f"state: {state.state}",
    ]
    lines += [
        f"  {e.at}  {e.kind:<10} by {e.actor}"
        + (f"  → {e.successor}" if e.successor else "")
        + (f"  [{e.reason_code}] {e.reason}" if e.reason_code else "")
        for e in events
    ]
    c.emit(data, "\n".join(lines))


@authority.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder a static web host serves.",
)
@click.option(
    "--timestamp-only",
    is_flag=True,
    help="Only re-sign timestamp.json of the last publication (a routine run, e.g. hourly), "
    "so verifiers keep finding the list fresh; refused if anything changed since.",
)
@pass_ctx
def publish(c: _Ctx, out_dir: Path, timestamp_only: bool) -> None:
    """Sign and publish the status list and public certificates into a folder."""
    passphrase = get_passphrase()
    with c.open() as auth:
        if timestamp_only:
            rep = auth.renew_timestamp(out_dir, passphrase, now=c.now)
        else:
            rep = auth.publish(out_dir, passphrase, now=c.now, actor=c.actor)
    what = "Renewed the timestamp of" if timestamp_only else "Published"
    c.emit(
        {
            "version": rep.version,
            "issued_at": format_time(rep.issued_at),
            "expires": format_time(rep.expires),
            "timestamp_expires": format_time(rep.timestamp_expires),
            "counts": rep.counts,
            "out": str(out_dir),
        },
        f"{what} status list version {rep.version} in {out_dir} "
        f"({', '.join(f'{k} {v}' for k, v in rep.counts.items())}); "
        f"timestamp expires {format_time(rep.timestamp_expires)}, "
        f"snapshot {format_time(rep.expires)}.",
    )


@authority.command("extend-timestamps")
@click.option(
    "--before",
    "before",
    default=None,
    help="Extend documents whose newest timestamp's certificate expires before this date "
    "(YYYY-MM-DD or an ISO time, UTC); default: one year from now.",
)
@pass_ctx
def extend_timestamps(c: _Ctx, before: str | None) -> None:
    """Renew the archival timestamp of issued B-LTA documents before their timestamps'
    certificates expire: each gets a new extended copy; the issued file is never changed."""
    until = c.now + dt.timedelta(days=365) if before is None else _parse_date(before)
    with c.open() as auth:
        services = extension_services(auth.home)
        made = auth.extend_timestamps(now=c.now, before=until, actor=c.actor, services=services)
    c.emit(
        [m.__dict__ for m in made],
        f"Extended {len(made)} document(s) whose timestamps expire before {format_time(until)}"
        + "".join(f"\n  {m.doc_id}: {m.path}" for m in made),
    )


def _parse_date(text: str) -> dt.datetime:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        return parse_time(text)
    except (ValueError, CertsealError):
        raise InputError(
            f"--before must be a date (YYYY-MM-DD) or an ISO time, not '{text}'",
            f"--before 須為日期（YYYY-MM-DD）或 ISO 時間，而非「{text}」",
        ) from None


@authority.command("rotate-key")
@click.option(
    "--role",
    type=click.Choice(ROTATABLE),
    default="signing",
    show_default=True,
    help="Which key: document signing, or status-list signing.",
)
@_IMPORT_SUCCESSOR
@pass_ctx
def rotate_key_cmd(c: _Ctx, role: str, p12_file: Any) -> None:
    """Certify a new key for a role (or take an outside CA's); documents signed with the old
    one keep verifying.

    The old certificate's window ends now; publish next, so verifiers see both windows."""
    successor = _successor(p12_file)
    passphrase = get_passphrase()
    with c.open() as auth:
        rot = rotate_key(auth.keys_dir, auth.school, role, passphrase, c.now, successor)
    recovered = rot.recovered.message[0].capitalize() + ". " if rot.recovered else ""
    c.emit(
        {
            "role": role,
            "old": rot.old.to_dict(),
            "new": rot.new.to_dict(),
            "hsm": rot.on_hsm,
            "recovered": recovered or None,
        },
        f"{recovered}New {role} certificate {rot.new.cert_sha256[:16]}… from {format_time(rot.at)}"
        f"{' (key on the HSM)' if rot.on_hsm else ''}; the old one "
        f"{rot.old.cert_sha256[:16]}… counts from {format_time(rot.old.valid_from)} to "
        f"{format_time(rot.old.valid_to)}. Run 'certseal authority publish' next.",
    )


@authority.command("key-compromised")
@click.option(
    "--since",
    "since_text",
    required=True,
    help="When the key became suspect (YYYY-MM-DD or an ISO time, UTC): the earliest moment "
    "it may have been in other hands.",
)
@click.option("--role", type=click.Choice(ROTATABLE), default="signing", show_default=True)
@click.option(
    "--cert",
    "cert_sha256",
    default=None,
    help="The SHA-256 of an earlier certificate of the role (default: the current one).",
)
@_IMPORT_SUCCESSOR
@pass_ctx
def key_compromised_cmd(
    c: _Ctx, since_text: str, role: str, cert_sha256: str | None, p12_file: Any
) -> None:
    """Record a key compromise: documents proven issued before --since keep verifying; later
    ones fail. A current key is replaced at once (by the CA's new one, with --import-p12).
    Lists the documents to re-issue."""
    since = _parse_since(since_text)
    successor = _successor(p12_file)
    passphrase = get_passphrase()
    with c.open() as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role=role, since=since,
            passphrase=passphrase, now=c.now, cert_sha256=cert_sha256, successor=successor,
        )  # fmt: skip
    lines = [
        f"The {role} certificate {done.key.cert_sha256[:16]}… is revoked as compromised from "
        f"{format_time(since)}."
    ]
    if done.rotation is not None:
        lines.append(f"It was replaced by {done.rotation.new.cert_sha256[:16]}….")
    lines.append(
        f"{len(done.affected)} document(s) to re-issue (reason: compromised key), then publish:"
    )
    lines += [f"  {d}" for d in done.affected]
    c.emit(
        {
            "key": done.key.to_dict(),
            "new": done.rotation.new.to_dict() if done.rotation else None,
            "affected": list(done.affected),
        },
        "\n".join(lines),
    )


def _parse_since(text: str) -> dt.datetime:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        return parse_time(text)
    except (ValueError, CertsealError):
        raise InputError(
            f"--since must be a date (YYYY-MM-DD) or an ISO time, not '{text}'",
            f"--since 須為日期（YYYY-MM-DD）或 ISO 時間，而非「{text}」",
        ) from None


@authority.command("export-trust")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def export_trust(c: _Ctx, out_dir: Path) -> None:
    """Copy the public trust material (root and status-list certificates) for verifiers."""
    material = public_material(c.home / "keys")
    if not material:
        raise ConfigurationError(f"no authority in {c.home}", f"{c.home} 沒有簽發單位")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in material.items():
        (out_dir / name).write_bytes(data)
    c.emit(sorted(material), f"Wrote {', '.join(sorted(material))} to {out_dir}")


@authority.command("export-request")
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--domain", "domains", multiple=True, required=True, help="The school's domain.")
@click.option("--status-list-url", help="Where the status list is [default: <site>/status/].")
@click.option("--log-url", help="Where the log is published [default: <site>/log/].")
@click.option(
    "--role-version",
    type=int,
    help="The version of the school's role [default: the key history's version: 1 until a key "
    "is rotated, one more at each rotation]. Give it only for a request that changes no key: "
    "one more than the version the trust list holds.",
)
@pass_ctx
def export_request_cmd(
    c: _Ctx,
    out_file: Path,
    domains: tuple[str, ...],
    status_list_url: str | None,
    log_url: str | None,
    role_version: int | None,
) -> None:
    """Write the signed request that asks a federation operator to admit this school, or,
    after a key rotation, to take its new keys: a later version is signed with the earlier
    status-list keys too (kept in keys/retired/), except one recorded compromised."""
    passphrase = get_passphrase()
    with c.open() as auth:
        school = auth.settings.school
        base = school.verify_url.rstrip("/")
        prepared = prepare_request(
            auth.keys_dir, passphrase, school, domains=domains,
            status_list_url=status_list_url or f"{base}/status/",
            log_url=log_url or f"{base}/log/", now=c.now, role_version=role_version,
        )  # fmt: skip
    if out_file.exists():
        raise InputError(f"{out_file} already exists", f"{out_file} 已存在")
    write_file(out_file, prepared.data)  # whole or not at all: a killed run leaves no stub
    c.emit(
        {
            "out": str(out_file),
            "school": school.code,
            "status_key_sha256": prepared.status_key.cert_sha256,
            "vouched_by": [k.cert_sha256 for k in prepared.vouchers],
        },
        f"Request written to {out_file}.",
    )
    notice = prepared.notice()
    if notice is not None:
        click.echo(f"Warning: {notice[0]}\n警告：{notice[1]}", err=True)
