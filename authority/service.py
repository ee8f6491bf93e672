"""The registrar's operations, as one object over the authority's home folder.

Home layout (outside any code checkout)::

    config.json         the school and its settings
    keys/               encrypted private keys and certificates
    registry.sqlite     the append-only registry
    documents/          the signed PDFs, named by document number
    log/                the transparency log (docs/transparency.md)
    lock                held while a command runs: one operator at a time

Time is always passed in; nothing below reads the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric import ec

from authority.config import School
from authority.content import DocumentContent
from authority.hsm import HsmSettings
from authority.keys import (
    CRL_FILE,
    create_pki,
    import_pkcs12,
    load_identity,
    public_material,
    renew_crl,
)
from authority.ltv import (
    Extension,
    LtvServices,
    extend_timestamp,
    extensions,
    newest_timestamp_expiry,
    record_extension,
)
from authority.records import Course, Graduate, ImportReport, Rank, parse_csv
from authority.registry import DocumentRow, Registry, Reissue
from authority.rotation import crl_entries, load_history
from authority.site_build import build_site
from authority.transparency import TransparencyLog, log_origin
from certseal.canonical import load_json_object
from certseal.doctypes import DIPLOMA_TYPES, DOCUMENT_TYPES, DocumentType, document_type
from certseal.errors import (
    AuthorityBusyError,
    CertsealError,
    ConfigurationError,
    InputError,
    RegistryError,
)
from certseal.fetch import published_fetcher
from certseal.files import set_aside, take_lock
from certseal.keyhistory import KeyHistory, history_path, snapshot_ref
from certseal.pki import key_id
from certseal.sigdigest import pdf_signature_digest
from certseal.statuslist import (
    REASON_CODES,
    BuiltList,
    Issuer,
    Snapshot,
    Timestamp,
    build_publication,
    build_shards,
    open_envelope,
    renew_timestamp,
    sha256_hex,
    snapshot_path,
    update_publication,
)
from certseal.timeutil import format_time
from certseal.workdays import WEEKENDS_ONLY, Calendar

Produce = Callable[[Iterable[tuple[DocumentContent, bool]]], Iterable[bytes | CertsealError]]
"""Renders and signs documents, in order; a document that cannot be made yields its error."""

CONFIG_VERSION = 1
WORKING_DAYS_DUE = 5  # NKUST: e-mailed within 5 working days of collecting the paper diploma
DEFAULT_STATUS_DAYS = 7
# The timestamp is short-lived (TUF's timestamp role): a verifier meeting the list for the first
# time can be fed an older publication only until its timestamp expires. A routine
# ``publish --timestamp-only`` renews it well within this.
DEFAULT_TIMESTAMP_HOURS = 6
GROUP_COMMIT = 50


def _inside_git_checkout(path: Path) -> Path | None:
    for parent in (path, *path.parents):
        if (parent / ".git").exists():
            return parent
    return None


def check_home_location(home: Path) -> None:
    checkout = _inside_git_checkout(home.resolve())
    if checkout is not None:
        raise ConfigurationError(
            f"the authority's home {home} is inside the code checkout {checkout}: keys and the "
            "registry must live outside it (set CERTSEAL_HOME or --home)",
            f"簽發單位目錄 {home} 位於程式碼目錄 {checkout} 內；金鑰與登錄資料須放在其外",
        )


@dataclass(frozen=True)
class Settings:
    school: School
    limits: dict[str, int | None]
    print_locked: dict[str, bool]
    status_validity_days: int = DEFAULT_STATUS_DAYS
    timestamp_validity_hours: int = DEFAULT_TIMESTAMP_HOURS

    @classmethod
    def for_school(cls, school: School) -> Settings:
        return cls(
            school=school,
            limits={c: t.verification_limit for c, t in DOCUMENT_TYPES.items()},
            print_locked={c: t.print_locked for c, t in DOCUMENT_TYPES.items()},
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        if d.get("config_version") != CONFIG_VERSION:
            raise ConfigurationError(
                "config.json has an unknown config_version", "config.json 的版本無法識別"
            )
        base = cls.for_school(School.from_dict(d.get("school", {})))
        limits = {**base.limits, **d.get("limits", {})}
        locked = {**base.print_locked, **d.get("print_locked", {})}
        for code, limit in limits.items():
            document_type(code)
            if limit is not None and (not isinstance(limit, int) or limit < 1):
                raise ConfigurationError(
                    f"limit for {code} must be a positive integer or null",
                    f"{code} 的驗證次數上限須為正整數或 null",
                )
        days = d.get("status_validity_days", DEFAULT_STATUS_DAYS)
        if not isinstance(days, int) or not 1 <= days <= 366:
            raise ConfigurationError(
                "status_validity_days must be 1 to 366", "status_validity_days 須為 1 到 366"
            )
        hours = d.get("timestamp_validity_hours", min(DEFAULT_TIMESTAMP_HOURS, days * 24))
        if not isinstance(hours, int) or not 1 <= hours <= days * 24:
            raise ConfigurationError(
                "timestamp_validity_hours must be 1 to status_validity_days × 24",
                "timestamp_validity_hours 須為 1 到 status_validity_days × 24",
            )
        return cls(base.school, limits, {k: bool(v) for k, v in locked.items()}, days, hours)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_version": CONFIG_VERSION,
            "school": self.school.to_dict(),
            "limits": self.limits,
            "print_locked": self.print_locked,
            "status_validity_days": self.status_validity_days,
            "timestamp_validity_hours": self.timestamp_validity_hours,
        }


@dataclass(frozen=True)
class IssueRequest:
    doc_type: str
    student_id: str
    order_ref: str | None = None

    @property
    def request_key(self) -> str:
        return f"{self.doc_type}:{self.student_id}:{self.order_ref or '-'}"


@dataclass(frozen=True)
class DueItem:
    student_id: str
    doc_type: str
    collected_on: dt.date
    due_by: dt.date
    overdue: bool


@dataclass(frozen=True)
class IssueReport:
    issued: tuple[DocumentRow, ...]
    already: tuple[DocumentRow, ...]
    failed: tuple[tuple[IssueRequest, CertsealError], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PublishReport:
    version: int
    issued_at: dt.datetime
    expires: dt.datetime
    counts: dict[str, int]
    files_written: int
    out_dir: Path
    timestamp_expires: dt.datetime  # the short-lived timestamp's; ``expires`` is the snapshot's


def add_working_days(day: dt.date, n: int, calendar: Calendar = WEEKENDS_ONLY) -> dt.date:
    """Working days skip weekends and the calendar's holidays (certseal/workdays.py)."""
    return calendar.add_working_days(day, n)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def init_authority(
    home: Path,
    school: School,
    passphrase: str,
    now: dt.datetime,
    *,
    p12: bytes | None = None,
    p12_passphrase: str = "",
    root_pem: bytes | None = None,
    hsm: HsmSettings | None = None,
    hsm_roles: tuple[str, ...] = ("signing",),
) -> Settings:
    """Create the home: settings, keys (new PKI or an imported PKCS#12), empty registry.

    With ``hsm``, the keys of ``hsm_roles`` are generated on that token
    (docs/key-lifecycle.md)."""
    check_home_location(home)
    if (home / "config.json").exists():
        raise ConfigurationError(
            f"an authority is already set up in {home}", f"{home} 已設定過簽發單位"
        )
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    lock = _take_lock(home)
    try:
        return _init_locked(home, school, passphrase, now, p12, p12_passphrase, root_pem, hsm,
                            hsm_roles)  # fmt: skip
    finally:
        lock.close()


INTERRUPTED_INIT = "interrupted/init"
"""Where an init killed before it finished is set aside: ``interrupted/init-<n>``."""
_INIT_FILES = ("keys", "documents", "registry.sqlite", "registry.sqlite-wal", "registry.sqlite-shm")


def _init_locked(
    home: Path,
    school: School,
    passphrase: str,
    now: dt.datetime,
    p12: bytes | None,
    p12_passphrase: str,
    root_pem: bytes | None,
    hsm: HsmSettings | None,
    hsm_roles: tuple[str, ...],
) -> Settings:
    if (home / "config.json").exists():  # another init finished while this one waited
        raise ConfigurationError(
            f"an authority is already set up in {home}", f"{home} 已設定過簽發單位"
        )
    # config.json is init's last write, and no command opens a home without it: what is here
    # is an init killed before it finished, never used to sign or publish, so it is kept aside
    # (not deleted) and init starts over.
    if (home / "registry.sqlite").exists():
        registry = Registry(home / "registry.sqlite")
        try:
            if registry.last_event():
                raise ConfigurationError(
                    f"{home} has no config.json but its registry holds issued documents: "
                    "restore config.json from a backup; init would start another authority",
                    f"{home} 缺少 config.json，但登錄資料已有核發紀錄：請自備份還原 config.json",
                )
        finally:
            registry.close()
    set_aside(home, _INIT_FILES, home / INTERRUPTED_INIT)
    if p12 is None:
        create_pki(home / "keys", school, passphrase, now, hsm=hsm, hsm_roles=hsm_roles)
    else:
        import_pkcs12(
            home / "keys", p12, p12_passphrase, passphrase, school, now, root_pem=root_pem
        )
    settings = Settings.for_school(school)
    (home / "documents").mkdir(exist_ok=True)
    Registry(home / "registry.sqlite").close()
    _write_atomic(
        home / "config.json",
        json.dumps(settings.to_dict(), ensure_ascii=False, indent=2).encode(),
    )
    return settings


def _take_lock(home: Path) -> IO[bytes]:
    """Hold the home's lock (one command at a time), or say plainly that another one does."""
    return take_lock(
        home / "lock",
        AuthorityBusyError(
            "another certseal command is using this authority right now; try again after it",
            "另一個 certseal 指令正在使用此簽發單位，請稍後再試",
        ),
    )


class Authority:
    """The registrar's operations. Use as a context manager: it holds the home's lock."""

    def __init__(self, home: Path) -> None:
        check_home_location(home)
        config = home / "config.json"
        if not config.exists():
            raise ConfigurationError(
                f"no authority is set up in {home} (or its init was interrupted): run "
                "'certseal authority init'",
                f"{home} 尚未設定簽發單位（或設定中斷）：請執行 certseal authority init",
            )
        self.home = home
        self._lock: IO[bytes] | None = _take_lock(home)
        self.settings = Settings.from_dict(json.loads(config.read_text("utf-8")))
        self.registry = Registry(home / "registry.sqlite")

    def close(self) -> None:
        self.registry.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def school(self) -> School:
        return self.settings.school

    # -- records -------------------------------------------------------------------------
    def import_records(
        self, kind: str, data: bytes, *, now: dt.datetime, actor: str, source: str
    ) -> tuple[ImportReport, int]:
        """Import one CSV export; returns the report and how many record versions were new."""
        report = parse_csv(kind, data)
        items: list[tuple[str, Any]]
        if kind == "graduates":
            items = [(g.student_id, g.to_dict()) for g in report.accepted]
            added = self.registry.add_records("graduate", items, at=now, actor=actor, source=source)
        elif kind == "courses":
            by_student: dict[str, list[dict[str, Any]]] = {}
            for c in report.accepted:
                by_student.setdefault(c.student_id, []).append(c.to_dict())
            added = self.registry.add_records(
                "courses", list(by_student.items()), at=now, actor=actor, source=source
            )
        else:
            items = [(r.student_id, r.to_dict()) for r in report.accepted]
            added = self.registry.add_records("rank", items, at=now, actor=actor, source=source)
        return report, added

    def graduate(self, student_id: str) -> tuple[int, Graduate]:
        latest = self.registry.latest_record("graduate", student_id)
        if latest is None:
            raise RegistryError(
                f"no graduate record for student {student_id}: import it first",
                f"查無學號 {student_id} 的畢業資料，請先匯入",
            )
        return latest[0], Graduate.from_dict(latest[1])

    def fix_english_name(
        self, student_id: str, name_en: str, *, now: dt.datetime, actor: str
    ) -> Graduate:
        """The registrar corrects a passport spelling; a new record version is appended."""
        _, grad = self.graduate(student_id)
        try:
            fixed = grad.with_name_en(name_en)
        except ValueError as e:
            raise InputError(f"English name: {e}", f"英文姓名：{e}") from None
        self.registry.add_records(
            "graduate", [(student_id, fixed.to_dict())], at=now, actor=actor, source="fix-name"
        )
        return fixed

    def record_collection(
        self, student_id: str, collected_on: dt.date, *, doc_type: str, now: dt.datetime, actor: str
    ) -> bool:
        if doc_type not in DIPLOMA_TYPES:
            raise InputError(
                "only paper diplomas are collected (diploma_zh or diploma_en)",
                "僅紙本學位證書需登記領取（diploma_zh 或 diploma_en）",
            )
        self.graduate(student_id)
        if collected_on > now.date():
            raise InputError("the collection date is in the future", "領取日期不可晚於今天")
        return self.registry.record_collection(
            student_id, doc_type, collected_on, at=now, actor=actor
        )

    def due(
        self,
        today: dt.date,
        *,
        calendar: Calendar = WEEKENDS_ONLY,
        working_days: int = WORKING_DAYS_DUE,
    ) -> list[DueItem]:
        """Digital diplomas owed: paper collected, digital one not issued yet; due
        ``working_days`` after collection, public holidays skipped with a ``calendar``."""
        out = []
        for student_id, doc_type, collected_on in self.registry.collections():
            key = IssueRequest(doc_type, student_id).request_key
            if self.registry.by_request(key) is not None:
                continue
            due_by = add_working_days(collected_on, working_days, calendar)
            out.append(DueItem(student_id, doc_type, collected_on, due_by, today > due_by))
        return out

    # -- issuing -------------------------------------------------------------------------
    def _content(
        self, req: IssueRequest, dtype: DocumentType, number: str, today: dt.date, version: int
    ) -> tuple[int, DocumentContent]:
        record_id, grad = self.graduate(req.student_id)
        courses: tuple[Course, ...] = ()
        rank = None
        if dtype.code == "transcript":
            latest = self.registry.latest_record("courses", req.student_id)
            courses = tuple(Course.from_dict(c) for c in (latest[1] if latest else []))
        if dtype.code == "rank_certificate" or (
            dtype.code == "transcript" and self.school.transcript.print_rank
        ):
            latest = self.registry.latest_record("rank", req.student_id)
            rank = Rank.from_dict(latest[1]) if latest else None
        content = DocumentContent(
            doc_type=dtype,
            document_number=number,
            issued_on=today,
            school=self.school,
            graduate=grad,
            courses=courses,
            rank=rank,
            version=version,
        )
        return record_id, content

    def _check_request(self, req: IssueRequest, dtype: DocumentType) -> None:
        if (
            dtype.requires_paper_collected
            and self.registry.collection(req.student_id, dtype.code) is None
        ):
            raise InputError(
                f"the paper {dtype.in_sentence()} of {req.student_id} is not recorded as "
                "collected: the digital one follows the paper one",
                f"學號 {req.student_id} 尚未登記領取紙本{dtype.name_zh}：數位證書於領取紙本後核發",
            )
        if not dtype.requires_paper_collected and not req.order_ref:
            raise InputError(
                f"{dtype.in_sentence(article=True)} is issued for an order: give its order "
                "reference",
                f"{dtype.name_zh}需依申請單核發：請提供申請單號",
            )
        # One per order (rank certificates) follows from the request key: type, student, order.

    def issue(
        self,
        requests: Sequence[IssueRequest],
        *,
        now: dt.datetime,
        actor: str,
        produce: Produce,
        progress: Callable[[int], None] | None = None,
        group_size: int = GROUP_COMMIT,
    ) -> IssueReport:
        """Issue a batch. Idempotent: a request already issued is skipped, never issued twice.

        ``produce`` renders and signs (possibly in worker processes) and yields the signed PDFs
        in order. Files are written before the registry commit, groups of documents are
        committed together: a crash leaves at worst unregistered files, overwritten by the re-run.
        """
        issued: list[DocumentRow] = []
        already: list[DocumentRow] = []
        failed: list[tuple[IssueRequest, CertsealError]] = []
        pending: list[tuple[IssueRequest, DocumentType, str, int, DocumentContent]] = []
        counters: dict[str, int] = {}
        today = now.date()
        in_batch: set[str] = set()
        for req in requests:
            if req.request_key in in_batch:
                failed.append(
                    (
                        req,
                        InputError(
                            f"{req.doc_type} for {req.student_id} is asked for twice in this batch",
                            f"同一批次重複申請 {req.student_id} 的 {req.doc_type}",
                        ),
                    )
                )
                continue
            in_batch.add(req.request_key)
            existing = self.registry.by_request(req.request_key)
            if existing is not None:
                already.append(existing)
                if progress:
                    progress(1)
                continue
            try:
                dtype = document_type(req.doc_type)
                self._check_request(req, dtype)
                prefix = f"{self.school.code}-{dtype.short}-{today.year}-"
                if prefix not in counters:
                    counters[prefix] = self.registry.next_number(prefix)
                number = f"{prefix}{counters[prefix]:06d}"
                record_id, content = self._content(req, dtype, number, today, 1)
            except CertsealError as e:
                failed.append((req, e))
                if progress:
                    progress(1)
                continue
            except ValueError as e:
                failed.append((req, InputError(str(e))))
                if progress:
                    progress(1)
                continue
            counters[prefix] += 1
            pending.append((req, dtype, number, record_id, content))
        # One stream for the whole batch, so the workers keep rendering and signing while this
        # process writes files and commits the previous group.
        jobs = [(c, self.settings.print_locked[d.code]) for (_, d, _, _, c) in pending]
        results = iter(produce(jobs))
        for start in range(0, len(pending), group_size):
            group = pending[start : start + group_size]
            rows = []
            sigs: dict[str, str] = {}
            for (req, dtype, number, record_id, _), pdf in zip(group, results, strict=False):
                if isinstance(pdf, CertsealError):
                    failed.append((req, pdf))
                    continue
                rows.append(self._store(req, dtype, number, record_id, pdf, now=now, actor=actor))
                sigs.update(_signature_digest(rows[-1].doc_id, pdf))
            self.registry.register(rows, sigs=sigs)
            issued.extend(rows)
            if progress:
                progress(len(group))
        return IssueReport(tuple(issued), tuple(already), tuple(failed))

    def _store(
        self,
        req: IssueRequest,
        dtype: DocumentType,
        number: str,
        record_id: int,
        pdf: bytes,
        *,
        now: dt.datetime,
        actor: str,
        version: int = 1,
        replaces: str | None = None,
        request_key: str | None = None,
    ) -> DocumentRow:
        rel = f"documents/{number}.pdf"
        _write_atomic(self.home / rel, pdf)
        return DocumentRow(
            doc_id=number,
            request_key=request_key or req.request_key,
            doc_type=dtype.code,
            student_id=req.student_id,
            version=version,
            replaces=replaces,
            record_id=record_id,
            order_ref=req.order_ref,
            sha256=sha256_hex(pdf),
            size=len(pdf),
            path=rel,
            issued_at=format_time(now),
            verification_limit=self.settings.limits[dtype.code],
            print_locked=self.settings.print_locked[dtype.code],
            actor=actor,
        )

    def reissue(
        self,
        doc_id: str,
        *,
        now: dt.datetime,
        actor: str,
        produce: Produce,
        why: Reissue | None = None,
    ) -> DocumentRow:
        """補發: a new version from the current record; the old one becomes superseded, or void
        when ``why.void`` (the school's rule). Without ``why`` the reason is ``other``."""
        why = why or Reissue("other", "reissued")
        old = self.registry.document(doc_id)
        state = self.registry.state(doc_id)
        if state.state != "active":
            raise RegistryError(
                f"document {doc_id} is {state.state}; only an active document can be reissued"
                + (f" (its successor is {state.successor})" if state.successor else ""),
                f"文件 {doc_id} 狀態為 {state.state}，僅有效文件可補發",
            )
        key = f"reissue:{doc_id}"
        existing = self.registry.by_request(key)
        if existing is not None:
            return existing
        dtype = document_type(old.doc_type)
        req = IssueRequest(old.doc_type, old.student_id, old.order_ref)
        prefix = f"{self.school.code}-{dtype.short}-{now.year}-"
        number = f"{prefix}{self.registry.next_number(prefix):06d}"
        record_id, content = self._content(req, dtype, number, now.date(), old.version + 1)
        pdf = next(iter(produce([(content, self.settings.print_locked[dtype.code])])))
        if isinstance(pdf, CertsealError):
            raise pdf
        row = self._store(
            req,
            dtype,
            number,
            record_id,
            pdf,
            now=now,
            actor=actor,
            version=old.version + 1,
            replaces=doc_id,
            request_key=key,
        )
        self.registry.register(
            [row],
            supersede={row.doc_id: doc_id},
            reissues={row.doc_id: why},
            sigs=_signature_digest(row.doc_id, pdf),
        )
        return row

    def revoke(
        self, doc_id: str, reason_code: str, reason: str, *, now: dt.datetime, actor: str
    ) -> None:
        if reason_code not in REASON_CODES:
            raise InputError(
                f"unknown reason code '{reason_code}' (known: {', '.join(REASON_CODES)})",
                f"未知的原因代碼「{reason_code}」",
            )
        if not reason.strip():
            raise InputError("say why the document is revoked", "請說明撤銷原因")
        self.registry.revoke(doc_id, reason_code, reason.strip(), at=now, actor=actor)

    # -- publishing ----------------------------------------------------------------------
    def publish(
        self, out_dir: Path, passphrase: str, *, now: dt.datetime, actor: str
    ) -> PublishReport:
        """Sign and write the status list (and the public certificates) into ``out_dir``."""
        identity = load_identity(self.keys_dir, "statuslist", passphrase)
        key = identity.key
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(
                "the status-list key must be ECDSA P-256", "狀態清單金鑰須為 ECDSA P-256"
            )
        last = self.registry.last_publication()
        version = 1 if last is None else int(last["version"]) + 1
        expires = now + dt.timedelta(days=self.settings.status_validity_days)
        ts_expires = now + dt.timedelta(hours=self.settings.timestamp_validity_hours)
        # The events go into the transparency log first; the signed snapshot names its checkpoint.
        log = TransparencyLog(self.home / "log")
        log_ref = log.update(
            self.registry, origin=log_origin(self.school.verify_url), now=now, key=key
        )
        # The key history goes next to the list, pinned by the snapshot (docs/key-lifecycle.md).
        history = load_history(self.keys_dir, self.school, now)
        history_file = _key_history_file(out_dir, history, key)
        extra = {**log_ref.to_extra(), **snapshot_ref(history, history_file)}
        backfilled = self._backfill_signature_digests(now)
        previous = _previous_snapshot(out_dir, last)
        if previous is not None and last is not None:
            # Only the documents whose events came since the last publish change shards, and
            # those whose signature digest was just read from their stored file.
            changed = {e.doc_id for e in self.registry.events(after=int(last["last_event"]))}
            changed |= backfilled
            built = update_publication(
                previous,
                published_fetcher(str(out_dir), "status"),
                self.registry.status_entries(with_log=True, doc_ids=changed),
                version=version,
                issued_at=now,
                expires=expires,
                key=key,
                extra=extra,
                timestamp_expires=ts_expires,
            )
        else:
            built = build_publication(
                build_shards(self.registry.status_entries(with_log=True), 4),
                issuer=Issuer(self.school.code, self.school.name_zh, self.school.name_en),
                version=version,
                issued_at=now,
                expires=expires,
                key=key,
                extra=extra,
                timestamp_expires=ts_expires,
            )
        written = log.publish(out_dir) + write_publication(out_dir, built)
        certs = out_dir / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        material = public_material(self.keys_dir)
        for name, data in material.items():
            _write_atomic(certs / name, data)
        _write_atomic(certs / "keys.json", history_file)  # every key and its window, for people
        # The root's CRL, signed afresh: what a validator decades on reads (docs/key-lifecycle.md).
        crl = renew_crl(self.keys_dir, passphrase, now, crl_entries(history))
        if crl is not None:
            _write_atomic(certs / CRL_FILE, crl)
            written += 1
        written += len(
            build_site(
                out_dir, school=self.school, snapshot=built.snapshot, certs=material, now=now
            )
        )
        self.registry.record_publication(
            version,
            format_time(now),
            format_time(expires),
            self.registry.last_event(),
            built.timestamp.snapshot.sha256,
            actor,
        )
        # The timestamp goes last: until it is replaced, clients keep seeing the old version.
        _write_atomic(out_dir / "status" / "timestamp.json", built.files["timestamp.json"])
        return PublishReport(
            version,
            now,
            expires,
            dict(built.snapshot.counts),
            written + 1,
            out_dir,
            built.timestamp.expires,
        )

    def _backfill_signature_digests(self, now: dt.datetime) -> set[str]:
        """Record the signature digest of documents issued before it was recorded, read from
        their stored issued file (docs/status-list.md); a file that is missing or holds no
        readable signature is published without one, and tried again at the next publish."""
        found: dict[str, str] = {}
        for row in self.registry.without_signature_digest():
            try:
                pdf = (self.home / row.path).read_bytes()
            except OSError:
                continue
            if sha256_hex(pdf) == row.sha256:  # the very file issued, nothing else
                found.update(_signature_digest(row.doc_id, pdf))
        if found:
            self.registry.backfill_signature_digests(found, at=now)
        return set(found)

    def extend_timestamps(
        self, *, now: dt.datetime, before: dt.datetime, actor: str, services: LtvServices
    ) -> list[Extension]:
        """Extend the archival timestamp chain of every issued, unrevoked B-LTA document whose
        newest document timestamp's certificate expires before ``before``.

        Each extended copy is a new file (``documents/extended/``), recorded in the registry's
        append-only ``extensions`` table; the issued file and its listed hash never change, and
        the verifier maps the copy to its entry (docs/verifier.md). A failing TSA stops the run
        (:class:`ServiceError`); what was extended before it stays recorded, and a re-run
        continues with the rest."""
        made: list[Extension] = []
        folder = self.home / "documents" / "extended"
        for row in self.registry.documents():
            if self.registry.state(row.doc_id).state == "revoked":
                continue
            done = extensions(self.registry.conn, row.doc_id)
            source = self.home / (done[-1].path if done else row.path)
            pdf = source.read_bytes()
            expires = newest_timestamp_expiry(pdf)
            if expires is None or expires >= before:
                continue
            extended = extend_timestamp(pdf, services)
            new_expiry = newest_timestamp_expiry(extended)
            rel = f"documents/extended/{row.doc_id}.{len(done) + 1}.pdf"
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.home / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:  # a new file, never over an earlier one
                f.write(extended)
                f.flush()
                os.fsync(f.fileno())
            ext = Extension(
                row.doc_id,
                rel,
                sha256_hex(extended),
                len(extended),
                sha256_hex(pdf),
                format_time(new_expiry) if new_expiry is not None else "",
                format_time(now),
                actor,
            )
            record_extension(self.registry.conn, ext)
            made.append(ext)
        return made

    def renew_timestamp(self, out_dir: Path, passphrase: str, *, now: dt.datetime) -> PublishReport:
        """Re-sign only ``timestamp.json`` of the last publication, with a later issue time and
        a new short expiry: the routine run that keeps the list fresh without a new version.

        Refused when anything changed since that publication: a fresh timestamp over the old
        snapshot would say that no revocation is missing from it.
        """
        last = self.registry.last_publication()
        if last is None:
            raise InputError(
                "nothing is published yet: run a full publish first", "尚未發布：請先完整發布"
            )
        pending = self.registry.last_event() - int(last["last_event"])
        if pending:
            raise InputError(
                f"{pending} change(s) since version {last['version']} are not published yet: "
                "run a full publish, not --timestamp-only",
                f"第 {last['version']} 版之後有 {pending} 筆異動尚未發布：請完整發布",
            )
        key = load_identity(self.keys_dir, "statuslist", passphrase).key
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(
                "the status-list key must be ECDSA P-256", "狀態清單金鑰須為 ECDSA P-256"
            )
        snapshot = _previous_snapshot(out_dir, last)
        current = _published_timestamp(out_dir, key.public_key())
        if (
            snapshot is None
            or current is None
            or current.version != snapshot.version
            or current.snapshot.sha256 != last["snapshot_sha256"]
        ):
            raise ConfigurationError(
                f"{out_dir} does not hold version {last['version']} as published: run a full "
                "publish into it",
                f"{out_dir} 並非第 {last['version']} 版的發布內容：請完整發布",
            )
        renewed, data = renew_timestamp(
            current,
            snapshot,
            issued_at=now,
            expires=now + dt.timedelta(hours=self.settings.timestamp_validity_hours),
            key=key,
        )
        _write_atomic(out_dir / "status" / "timestamp.json", data)
        return PublishReport(
            snapshot.version,
            now,
            snapshot.expires,
            dict(snapshot.counts),
            1,
            out_dir,
            renewed.expires,
        )


def _signature_digest(doc_id: str, pdf: bytes) -> dict[str, str]:
    """The document's signature digest to record, if its file holds one signature."""
    sig = pdf_signature_digest(pdf)
    return {} if sig is None else {doc_id: sig}


def _published_timestamp(out_dir: Path, public: ec.EllipticCurvePublicKey) -> Timestamp | None:
    """The timestamp in ``out_dir``, if this authority's key signed it."""
    kid = key_id(public)
    try:
        data = (out_dir / "status" / "timestamp.json").read_bytes()
        return Timestamp.from_signed(
            open_envelope(data, "timestamp", lambda k: public if k == kid else None)
        )
    except (OSError, CertsealError):
        return None


def _previous_snapshot(out_dir: Path, last: dict[str, Any] | None) -> Snapshot | None:
    """The snapshot this authority last published into ``out_dir``, if it is still there
    unchanged (the registry recorded its hash); otherwise the next publish rebuilds it all."""
    if last is None:
        return None
    path = out_dir / "status" / snapshot_path(int(last["version"]))
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if sha256_hex(data) != last["snapshot_sha256"]:
        return None
    return Snapshot.from_signed(load_json_object(data, "snapshot")["signed"])


def _key_history_file(out_dir: Path, history: KeyHistory, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The signed history, published once per version: a version already published is read
    back, never re-signed (a new signature would change the bytes the snapshot pins)."""
    path = out_dir / "status" / history_path(history.version)
    if path.exists():
        data = path.read_bytes()
        if KeyHistory.open(data, {key_id(key.public_key()): key.public_key()}.get) == history:
            return data
    data = history.sign(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, data)
    return data


def write_publication(out_dir: Path, built: BuiltList) -> int:
    """Write every file but the timestamp; content-addressed files are written once.

    Tens of thousands of shard files are written without a sync each (that alone took
    minutes); one ``os.sync`` follows, before the snapshot that pins them is written. A file
    left short by a crash is rewritten next time: its size no longer matches."""
    status = out_dir / "status"
    written = 0
    made: set[Path] = set()
    for rel, data in built.files.items():
        if rel == "timestamp.json" or not rel.startswith(("shards/", "buckets/")):
            continue
        path = status / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        try:
            if path.stat().st_size == len(data):
                continue
        except FileNotFoundError:
            pass
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written += 1
    os.sync()
    for rel, data in built.files.items():
        if rel != "timestamp.json" and not rel.startswith(("shards/", "buckets/")):
            path = status / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
            written += 1
    return written
