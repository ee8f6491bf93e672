"""The auditor for the federation's trust list: was the published history ever rewritten?

Like the school audit (:mod:`auditor.run`), from the published ``trust/`` folder (or its URL)
and a pinned root alone. One run checks, in order:

- ``trust_list``: the current list verifies as a relying party reads it (python-tuf's rules:
  every role signed by its threshold, pins, expiry), and goes back on nothing remembered;
- ``metadata_history``: every versioned metadata file the list implies is still published,
  unchanged since it was last seen, and every version of the list of schools (``targets``)
  was signed by a threshold of root keys;
- ``log``: the trust-list log's checkpoint is signed by the online key, its leaves hash to it,
  it extends the checkpoint remembered, and the snapshot's checkpoint is a prefix of it;
- ``list_vs_log``: the list says what the log says (:func:`certseal.trustlist.compare_with_log`):
  a school removed, a key replaced or added without an event;
- ``remembered``: no school seen before has gone.

What the auditor remembers (:class:`TrustAuditState`) is what lets the next run tell a list that
was only extended from one that was rewritten, even consistently re-signed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from tuf.api.metadata import Metadata, Root

from auditor.report import AuditCheck, CheckStatus, Findings, Violation
from certseal import tlog
from certseal.errors import (
    CertsealError,
    DeserializationError,
    ExpiredError,
    FetchError,
    InputError,
    RollbackError,
    SignatureVerificationError,
)
from certseal.eventlog import PublishedLog
from certseal.fetch import Fetch, published_fetcher
from certseal.trustlist import (
    LOG_DIR,
    MAX_BYTES,
    MAX_ROOT_ROTATIONS,
    TrustEvent,
    TrustList,
    TrustListClient,
    compare_with_log,
    log_reference,
    metadata_path,
    parse_metadata,
)

CHECKS = ("trust_list", "metadata_history", "log", "list_vs_log", "remembered")

VIOLATIONS: dict[str, tuple[str, str]] = {
    "unavailable": ("a published file the audit needs is missing", "稽核所需的公開檔案不存在"),
    "below_threshold": (
        "a trust-list file is not signed by enough of its role's keys",
        "信任清單檔案的簽章未達門檻",
    ),
    "rollback": (
        "the trust list is older than one seen before",
        "信任清單舊於先前所見版本",
    ),
    "expired": ("the trust list has expired", "信任清單已過期"),
    "malformed": ("a trust-list file is malformed", "信任清單檔案格式錯誤"),
    "metadata_rewritten": (
        "a published trust-list version differs from the one seen before",
        "已公布的信任清單版本與先前所見不同",
    ),
    "metadata_deleted": (
        "a published trust-list version was deleted",
        "已公布的信任清單版本遭刪除",
    ),
    "log_missing": ("the trust list names no transparency log", "信任清單未指明透明紀錄"),
    "log_signature": (
        "the trust-list log's checkpoint is not signed by the federation's online key",
        "信任清單紀錄的檢查點並非由聯盟線上金鑰簽署",
    ),
    "log_entries_mismatch": (
        "the trust-list log's leaves do not hash to its signed checkpoint",
        "信任清單紀錄內容與簽署的檢查點不符",
    ),
    "log_rewritten": (
        "the trust-list log does not extend the history seen before or named by the snapshot",
        "信任清單紀錄並未延續先前所見或快照所指的紀錄：遭改寫",
    ),
    "school_removed": (
        "a school admitted in the log, or seen before, is missing from the trust list",
        "紀錄中或先前所見的學校不在信任清單中",
    ),
    "school_not_logged": (
        "a school is in the trust list but was never admitted in the log",
        "信任清單中的學校未見於紀錄",
    ),
    "profile_not_logged": (
        "a school's profile differs from the last one its log announced",
        "學校資料與紀錄中最後公布的不同",
    ),
    "key_not_logged": (
        "a school's key is not as its log announced it: added or replaced silently",
        "學校金鑰與紀錄不符：遭悄悄新增或替換",
    ),
    "root_not_logged": (
        "a published root is not the one the trust-list log announced, or was never announced",
        "已公布的根中繼資料與信任清單紀錄所公布的不同，或從未公布於紀錄",
    ),
    "key_removed": (
        "a school's key announced in the log is missing from the trust list",
        "紀錄中公布的學校金鑰不在信任清單中",
    ),
}


class TrustStateError(InputError):
    """The trust-list auditor's state file is not one this program wrote."""

    code = "trust_auditor_state"


def _bad_state(why: str) -> TrustStateError:
    return TrustStateError(
        f"the trust-list audit state is not one this program wrote: {why}",
        f"信任清單稽核狀態檔格式錯誤：{why}",
    )


STATE_TYPE = "certseal/trust-auditor-state"


@dataclass(frozen=True)
class TrustAuditState:
    """What a clean audit saw: versions, every versioned file's hash, the log, the schools."""

    timestamp_version: int
    snapshot_version: int
    targets_version: int
    roles: Mapping[str, int]
    files: Mapping[str, str]  # metadata path -> SHA-256
    log_size: int
    log_root: bytes
    schools: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("timestamp_version", "snapshot_version", "targets_version", "log_size"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise _bad_state(f"{name} must be a whole number")
        if not isinstance(self.log_root, bytes) or len(self.log_root) not in (0, tlog.HASH_SIZE):
            raise _bad_state("the log root must be a SHA-256")
        if not all(isinstance(v, int) for v in self.roles.values()):
            raise _bad_state("role versions must be whole numbers")
        if not all(isinstance(v, str) and len(v) == 64 for v in self.files.values()):
            raise _bad_state("file hashes must be SHA-256 hex")

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATE_TYPE,
            "timestamp_version": self.timestamp_version,
            "snapshot_version": self.snapshot_version,
            "targets_version": self.targets_version,
            "roles": dict(sorted(self.roles.items())),
            "files": dict(sorted(self.files.items())),
            "log_size": self.log_size,
            "log_root": base64.b64encode(self.log_root).decode(),
            "schools": list(self.schools),
        }

    @classmethod
    def from_dict(cls, d: object) -> TrustAuditState:
        if not isinstance(d, Mapping) or d.get("_type") != STATE_TYPE:
            raise _bad_state(f"not a {STATE_TYPE}")
        try:
            return cls(
                d["timestamp_version"],
                d["snapshot_version"],
                d["targets_version"],
                dict(d["roles"]),
                dict(d["files"]),
                d["log_size"],
                base64.b64decode(d["log_root"], validate=True),
                tuple(d["schools"]),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise _bad_state(str(e)) from None

    @classmethod
    def load(cls, path: Path) -> TrustAuditState | None:
        """The state in ``path``; None when the file does not exist yet (a first audit)."""
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise _bad_state(f"cannot read {path}: {e}") from None
        try:
            return cls.from_dict(json.loads(text))
        except ValueError as e:
            raise _bad_state(str(e)) from None

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", "utf-8")
        tmp.replace(path)


@dataclass(frozen=True)
class TrustViolation(Violation):
    """A finding of the trust-list audit, from its own catalog of codes."""

    catalog: ClassVar[Mapping[str, tuple[str, str]]] = VIOLATIONS

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "title_zh": self.catalog[self.code][1]}


@dataclass(frozen=True)
class TrustListAudit(Findings):
    """Every check of a trust-list audit, every violation, and the state to keep if clean."""

    source: str
    checks: tuple[AuditCheck, ...]
    violations: tuple[TrustViolation, ...]
    facts: Mapping[str, Any]
    new_state: TrustAuditState | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "violation_codes": list(self.codes),
            "facts": dict(self.facts),
            "checks": [c.to_dict() for c in self.checks],
            "violations": [v.to_dict() for v in self.violations],
        }

    def to_text(self) -> str:
        lines = [f"certseal audit of the trust list at {self.source}"]
        lines += [f"  {k:<16}{v}" for k, v in self.facts.items()]
        lines += ["", "checks"]
        for c in self.checks:
            lines.append(f"  [{c.status}] {c.name:<16}  {c.detail}")
        if self.violations:
            lines += ["", "violations"] + [f"  {v.code}: {v.detail}" for v in self.violations]
        lines.append("")
        lines.append(
            "result: CLEAN: no violation"
            if self.ok
            else f"result: VIOLATIONS: {', '.join(self.codes)}"
        )
        return "\n".join(lines) + "\n"


@dataclass
class _Run:
    checks: list[AuditCheck] = field(default_factory=list)
    violations: list[TrustViolation] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def flag(self, check: str, code: str, detail: str) -> None:
        self.failed.add(check)
        self.violations.append(TrustViolation(code, check, detail))

    def done(self, check: str, passed: str, status: CheckStatus = "passed") -> None:
        if check in self.failed:
            codes = sorted({v.code for v in self.violations if v.check == check})
            self.checks.append(AuditCheck(check, "failed", ", ".join(codes)))
        else:
            self.checks.append(AuditCheck(check, status, passed))


_KINDS: tuple[tuple[type[CertsealError], str], ...] = (
    (SignatureVerificationError, "below_threshold"),
    (RollbackError, "rollback"),
    (ExpiredError, "expired"),
    (FetchError, "unavailable"),
    (DeserializationError, "malformed"),
)


def _code(e: CertsealError) -> str:
    return next((code for cls, code in _KINDS if isinstance(e, cls)), "malformed")


def audit_trust_list(
    source: str,
    root: bytes,
    *,
    reference_time: dt.datetime,
    state: TrustAuditState | None = None,
) -> TrustListAudit:
    """Audit the trust list published at ``source`` (its ``trust/`` folder or URL).

    Args:
        root: the pinned root, ``metadata/1.root.json`` as shipped by the operator.
        reference_time: now, to tell an expired list.
        state: what the last clean audit of this list remembered.
    """
    run = _Run()
    fetch = published_fetcher(source, ".")
    client = TrustListClient(fetch, root)
    try:
        tl = client.refresh(reference_time)
    except CertsealError as e:
        run.flag("trust_list", _code(e), e.en)
        run.done("trust_list", "")
        for name in CHECKS[1:]:
            run.done(name, "skipped: the trust list does not verify", "skipped")
        return _report(source, run, None)
    run.facts["trust list"] = (
        f"version {tl.targets_version} (snapshot {tl.snapshot_version}, timestamp "
        f"{tl.timestamp_version}), {len(tl.schools)} schools"
    )
    roots = _root_chain(fetch, root, run)
    if state is not None:
        _check_versions(run, tl, state)
    run.done("trust_list", "every role is signed by its threshold, fresh, pinned")
    files = _history(run, fetch, tl, roots, state)
    run.done("metadata_history", f"{len(files)} versioned files published and unchanged")
    events, log_size, log_root = _log(run, source, tl, roots[-1], state)
    if events is None:
        run.done("list_vs_log", "skipped: the log could not be read", "skipped")
    else:
        ref = log_reference(tl.log)
        upto = events if ref is None else events[: ref[1]]
        for d in compare_with_log(tl, upto):
            run.flag("list_vs_log", d.code, d.en)
        _roots_vs_log(run, roots, files, upto)
        run.done("list_vs_log", f"every school and key is as its {len(upto)} log events say")
    if state is None:
        run.done("remembered", "first audit: nothing remembered yet", "skipped")
    else:
        for sid in sorted(set(state.schools) - set(tl.schools)):
            run.flag("remembered", "school_removed", f"school {sid} was listed before, not now")
        run.done("remembered", f"all {len(state.schools)} schools seen before are still listed")
    new_state = None
    if not run.violations and events is not None:
        new_state = TrustAuditState(
            tl.timestamp_version,
            tl.snapshot_version,
            tl.targets_version,
            {sid: s.role_version for sid, s in tl.schools.items()},
            {**(state.files if state else {}), **files},
            log_size,
            log_root,
            tuple(sorted(set(tl.schools) | set(state.schools if state else ()))),
        )
    return _report(source, run, new_state)


def _report(source: str, run: _Run, new_state: TrustAuditState | None) -> TrustListAudit:
    checks = tuple(sorted(run.checks, key=lambda c: CHECKS.index(c.name)))
    return TrustListAudit(source, checks, tuple(run.violations), dict(run.facts), new_state)


def _root_chain(fetch: Fetch, pinned: bytes, run: _Run) -> list[Metadata[Root]]:
    """Every root from the pin on (the client already checked the chain's signatures)."""
    roots: list[Metadata[Root]] = [parse_metadata(pinned, "root")]
    for version in range(2, 2 + MAX_ROOT_ROTATIONS):
        try:
            data = fetch(metadata_path("root", version), MAX_BYTES["root"])
        except FetchError:
            break
        roots.append(parse_metadata(data, f"root v{version}"))
    run.facts["root"] = f"version {roots[-1].signed.version} ({len(roots)} in the chain)"
    return roots


def _check_versions(run: _Run, tl: TrustList, state: TrustAuditState) -> None:
    for what, now, before in (
        ("timestamp", tl.timestamp_version, state.timestamp_version),
        ("snapshot", tl.snapshot_version, state.snapshot_version),
        ("list of schools (targets)", tl.targets_version, state.targets_version),
    ):
        if now < before:
            run.flag("trust_list", "rollback", f"the {what} is version {now}, after {before}")
    for sid, before in sorted(state.roles.items()):
        school = tl.schools.get(sid)
        if school is not None and school.role_version < before:
            run.flag(
                "trust_list",
                "rollback",
                f"school {sid}'s key history is version {school.role_version}, after {before}",
            )


def _signed_by_some_root(md: Metadata[Any], role: str, roots: list[Metadata[Root]]) -> bool:
    """True when a root of the chain holds a threshold of signatures for ``role``."""
    for r in roots:
        try:
            r.signed.verify_delegate(role, md.signed_bytes, md.signatures)
        except Exception:  # noqa: S112 - python-tuf raises several types here
            continue
        return True
    return False


def _history(
    run: _Run,
    fetch: Fetch,
    tl: TrustList,
    roots: list[Metadata[Root]],
    state: TrustAuditState | None,
) -> dict[str, str]:
    """Every versioned file of the list's history: present, unchanged, threshold-signed."""
    wanted: list[tuple[str, str, int]] = [("root", "root", r.signed.version) for r in roots]
    for role, last in (
        ("targets", tl.targets_version),
        ("snapshot", tl.snapshot_version),
        ("timestamp", tl.timestamp_version - 1),  # the current one is timestamp.json
    ):
        wanted += [(role, role, v) for v in range(1, last + 1)]
    for group, last in tl.groups.items():  # signed by the same offline keys as targets
        wanted += [(group, "targets", v) for v in range(1, last + 1)]
    for sid, school in tl.schools.items():
        wanted += [(sid, "school", v) for v in range(1, school.role_version + 1)]
    seen = dict(state.files) if state else {}
    files: dict[str, str] = {}
    for name, kind, version in wanted:
        path = metadata_path(name, version)
        try:
            data = fetch(path, MAX_BYTES[kind])
        except FetchError:
            # The operator publishes every version of every role under its own name.
            run.flag("metadata_history", "metadata_deleted", f"{path} is no longer published")
            continue
        digest = hashlib.sha256(data).hexdigest()
        files[path] = digest
        if path in seen and seen[path] != digest:
            run.flag("metadata_history", "metadata_rewritten", f"{path} changed since it was seen")
        if kind in ("targets", "snapshot", "timestamp"):
            try:
                md = parse_metadata(data, path)
            except CertsealError as e:
                run.flag("metadata_history", "malformed", e.en)
                continue
            if not _signed_by_some_root(md, kind, roots):
                run.flag(
                    "metadata_history",
                    "below_threshold",
                    f"{path} is not signed by a threshold of the {kind} role's keys",
                )
    for path in sorted(set(seen) - {metadata_path(n, v) for n, _, v in wanted}):
        try:
            fetch(path, MAX_BYTES["targets"])
        except FetchError:
            run.flag("metadata_history", "metadata_deleted", f"{path} is no longer published")
    return files


def _roots_vs_log(
    run: _Run, roots: list[Metadata[Root]], files: Mapping[str, str], events: list[TrustEvent]
) -> None:
    """Every root after the pinned one is the file its ``root`` event announced: a root
    re-signed by the threshold after it was published still differs from the logged hash."""
    logged = {ev.version: ev.sha256 for ev in events if ev.event == "root"}
    published = {r.signed.version for r in roots}
    for r in roots[1:]:
        version = r.signed.version
        digest = files.get(metadata_path("root", version))
        if digest is None:
            continue  # already named as deleted by the history check
        if version not in logged:
            run.flag("list_vs_log", "root_not_logged", f"root v{version} has no event in the log")
        elif logged[version] != digest:
            run.flag(
                "list_vs_log",
                "root_not_logged",
                f"root v{version} is not the file the log announced (rewritten)",
            )
    for version in sorted(v for v in logged if v is not None and v not in published):
        run.flag(
            "list_vs_log",
            "metadata_deleted",
            f"root v{version} was announced in the log but is not published",
        )


def _online_keys(root: Metadata[Root]) -> list[ec.EllipticCurvePublicKey]:
    out = []
    for keyid in root.signed.roles["timestamp"].keyids:
        pem = root.signed.keys[keyid].keyval.get("public", "")
        try:
            key = load_pem_public_key(pem.encode())
        except ValueError:
            continue
        if isinstance(key, ec.EllipticCurvePublicKey):
            out.append(key)
    return out


def _log(
    run: _Run,
    source: str,
    tl: TrustList,
    root: Metadata[Root],
    state: TrustAuditState | None,
) -> tuple[list[TrustEvent] | None, int, bytes]:
    """Read and check the whole trust-list log; its events, size and root."""
    try:
        ref = log_reference(tl.log)
    except CertsealError as e:
        run.flag("log", "malformed", e.en)
        ref = None
    if ref is None:
        run.flag("log", "log_missing", "the snapshot names no checkpoint of the trust-list log")
        run.done("log", "")
        return None, 0, b""
    origin, ref_size, ref_root = ref
    log = PublishedLog(published_fetcher(source, LOG_DIR))
    try:
        cp = log.open(origin, _online_keys(root))
    except SignatureVerificationError as e:
        run.flag("log", "log_signature", e.en)
        run.done("log", "")
        return None, 0, b""
    except CertsealError as e:
        run.flag("log", _code(e), e.en)
        run.done("log", "")
        return None, 0, b""
    leaves: list[bytes] = []
    try:
        for index in range((cp.size + 255) // 256):
            leaves += log.bundle(index, cp.size)
        events = [TrustEvent.from_bytes(leaf) for leaf in leaves[: cp.size]]
    except CertsealError as e:
        run.flag("log", _code(e), e.en)
        run.done("log", "")
        return None, 0, b""
    hashes = b"".join(tlog.leaf_hash(leaf) for leaf in leaves[: cp.size])

    def root_of(size: int) -> bytes:
        return tlog.merkle_root(hashes[: size * tlog.HASH_SIZE])

    if len(leaves) < cp.size or root_of(cp.size) != cp.root_hash:
        run.flag("log", "log_entries_mismatch", f"the {cp.size} leaves do not hash to the root")
    if ref_size > cp.size or root_of(ref_size) != ref_root:
        run.flag(
            "log",
            "log_rewritten",
            f"the snapshot names checkpoint {ref_size}, which is not a prefix of the log",
        )
    if (state is not None and state.log_size) and (
        state.log_size > cp.size or root_of(state.log_size) != state.log_root
    ):
        run.flag(
            "log",
            "log_rewritten",
            f"the log does not extend the {state.log_size} leaves seen before",
        )
    run.facts["log"] = f"{origin}: {cp.size} events"
    run.done("log", f"checkpoint {cp.size} signed by the online key; leaves and prefixes agree")
    return events, cp.size, cp.root_hash
