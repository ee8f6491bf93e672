"""The auditor: prove, from the published folder or its URL alone, that history was not rewritten.

Like a Certificate Transparency monitor, the auditor replays the whole log and remembers what
it saw (:class:`AuditorState`), so that the next run can tell a log that was only extended from
one that was rewritten. One run checks that:

- the status list and every checkpoint are signed by the status-list key (the same one as last
  time), and the status list is not older than the one seen before;
- checkpoints form one history: no two of the same size with different roots (a fork), each
  one a prefix of the next and of every one seen before, none smaller than one seen before
  (truncation), their times in order;
- the published leaves hash to the signed roots, every leaf is numbered by its position (none
  removed) and the published tiles are the tree's;
- no event contradicts an earlier one: a revoked document never changes again, a superseded
  one names a successor issued before it, no event is dated before the checkpoint that
  preceded it or before an event recorded earlier, none after the checkpoint that holds it;
- the status list says exactly what the log says, document by document;
- what was revoked or superseded in a log seen before still is.

Every finding is a :class:`Violation` with a stable code; :class:`AuditReport` carries every
check, passed or failed, and ``ok`` is its one summary.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.errors import (
    CertsealError,
    DeserializationError,
    FetchError,
    InputError,
    RollbackError,
)
from certseal.eventlog import (
    LOG_DIR,
    MAX_BYTES,
    TILE_BYTES,
    TILE_HEIGHT,
    LogRef,
    PublishedLog,
    TileCache,
    TiledTree,
    checkpoint_path,
    checkpoint_time,
    consistency_path,
    memory_tiles,
    parse_leaf,
    subtree_roots,
    tile_path,
    tile_width,
)
from certseal.fetch import published_fetcher
from certseal.pki import ec_public_key, key_id, load_certificates
from certseal.statuslist import (
    STATES,
    Bucket,
    Entry,
    FileRef,
    Shard,
    TrustedState,
    bucket_path,
    fetch_pinned,
    load_trusted,
    sha256_hex,
    shard_path,
)
from certseal.timeutil import format_time

CheckStatus = Literal["passed", "failed", "skipped"]
CHECKS = (
    "status_list_key",
    "status_list",
    "checkpoints",
    "log_entries",
    "consistency",
    "tiles",
    "event_history",
    "status_vs_log",
    "remembered",
)
"""Every check of an audit, in the order the report lists them."""
MAX_PER_CODE = 20
"""Violations recorded per code; the rest are counted (a rewritten list could yield millions)."""

VIOLATIONS: dict[str, tuple[str, str]] = {
    "unavailable": ("a published file the audit needs is missing", "稽核所需的公開檔案不存在"),
    "key_changed": (
        "the status-list key is not the one seen before",
        "狀態清單金鑰與先前所見不同",
    ),
    "status_list_invalid": (
        "the status list is malformed or not signed by the status-list key",
        "狀態清單格式錯誤或非由狀態清單金鑰簽署",
    ),
    "rollback": ("the status list is older than one seen before", "狀態清單舊於先前所見版本"),
    "log_missing": ("the status list names no transparency log", "狀態清單未指明透明紀錄"),
    "origin_changed": ("the log is not the one seen before", "透明紀錄與先前所見不是同一份"),
    "checkpoint_signature": (
        "a checkpoint is malformed or not signed by the status-list key",
        "檢查點格式錯誤或非由狀態清單金鑰簽署",
    ),
    "fork": (
        "two checkpoints of the same size have different roots: two histories were shown",
        "同一大小的兩個檢查點根雜湊不同：曾出示兩種不同的紀錄",
    ),
    "inconsistent_history": (
        "a checkpoint does not extend an earlier one: history was rewritten",
        "檢查點並未延續先前的檢查點：紀錄遭改寫",
    ),
    "truncated_log": (
        "the log holds fewer leaves than a checkpoint promised",
        "透明紀錄的內容少於檢查點所載",
    ),
    "missing_leaf": ("a leaf was removed from the log", "透明紀錄中有紀錄被移除"),
    "malformed_leaf": ("a leaf is not a well-formed event", "透明紀錄中有格式錯誤的事件"),
    "entries_mismatch": (
        "the published leaves do not hash to the signed root",
        "公開的紀錄內容與簽署的根雜湊不符",
    ),
    "tile_mismatch": (
        "a published hash tile is missing or not the tree's",
        "公開的雜湊圖塊缺漏或與樹不符",
    ),
    "bad_proof": (
        "a published consistency proof does not verify",
        "公開的一致性證明無法驗證",
    ),
    "unknown_document": (
        "an event concerns a document never issued in the log",
        "事件所指文件未曾於紀錄中核發",
    ),
    "duplicate_event": ("a document was issued or revoked twice", "文件被重複核發或撤銷"),
    "revocation_undone": (
        "a revoked document is active or changed again",
        "已撤銷的文件再次有效或被變更",
    ),
    "supersession_undone": (
        "a superseded document is current again or got another successor",
        "已被取代的文件再次成為最新版本或換了新版本",
    ),
    "missing_successor": (
        "a document is superseded without a successor issued before",
        "文件被取代，但新版本未在先前核發",
    ),
    "backdated_event": (
        "an event is dated before something already recorded or published",
        "事件日期早於已記錄或已公布的內容（回溯）",
    ),
    "postdated_event": (
        "an event is dated after the checkpoint that holds it",
        "事件日期晚於收錄它的檢查點",
    ),
    "backdated_checkpoint": (
        "a checkpoint is dated before an earlier one",
        "檢查點時間早於前一個檢查點",
    ),
    "status_mismatch": (
        "the status list does not say what the log says",
        "狀態清單內容與透明紀錄不符",
    ),
}

# A document as the replay knows it: state, type, issued_at, limit, successor, superseded_at,
# reason, revoked_at, leaf indexes. A list, not an object: there may be millions.
_State = list[Any]
_ACTIVE, _SUPERSEDED, _REVOKED = STATES


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One finding: a stable code (see :data:`VIOLATIONS`) and what exactly is wrong."""

    code: str
    check: str
    detail: str

    def __post_init__(self) -> None:
        if self.code not in VIOLATIONS:
            raise ValueError(f"unknown violation code {self.code}")

    @property
    def title(self) -> str:
        return VIOLATIONS[self.code][0]

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "check": self.check, "title": self.title, "detail": self.detail}


@dataclass(frozen=True)
class AuditCheck:
    """One check of the audit and why it passed, failed or was skipped."""

    name: str
    status: CheckStatus
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class SeenCheckpoint:
    size: int
    root: bytes
    time: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": _b64(self.root), "time": self.time}


@dataclass(frozen=True)
class AuditorState:
    """What the auditor remembers between runs (like a CT monitor): the key, the log, every
    checkpoint it accepted, and every revocation and supersession it saw (document hash to
    leaf index), so a rewritten history is named even when it was re-signed consistently."""

    key_id: str
    origin: str
    status_version: int
    checkpoints: tuple[SeenCheckpoint, ...]
    revoked: Mapping[str, int] = field(default_factory=dict)
    superseded: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": "certseal/auditor-state",
            "key_id": self.key_id,
            "origin": self.origin,
            "status_version": self.status_version,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "revoked": dict(self.revoked),
            "superseded": dict(self.superseded),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditorState:
        try:
            if d.get("_type") != "certseal/auditor-state":
                raise ValueError("not an auditor state")
            return cls(
                str(d["key_id"]),
                str(d["origin"]),
                int(d["status_version"]),
                tuple(
                    SeenCheckpoint(int(c["size"]), base64.b64decode(c["root"]), c.get("time"))
                    for c in d["checkpoints"]
                ),
                {str(k): int(v) for k, v in d["revoked"].items()},
                {str(k): int(v) for k, v in d["superseded"].items()},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(
                f"the auditor state is not one this program wrote: {e}",
                f"稽核狀態檔格式錯誤：{e}",
            ) from None

    @classmethod
    def load(cls, path: Path) -> AuditorState | None:
        """The state saved at ``path``, or None if there is none yet (a first audit)."""
        if not path.exists():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read the auditor state {path}: {e}") from None

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), "utf-8")
            tmp.replace(path)
        except OSError as e:
            raise InputError(
                f"cannot save the auditor state {path}: {e.strerror}",
                f"無法儲存稽核狀態檔 {path}：{e.strerror}",
            ) from None


@dataclass(frozen=True)
class AuditReport:
    """Every check the audit ran, every violation, and the state to remember if it is clean."""

    source: str
    checks: tuple[AuditCheck, ...]
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]
    facts: Mapping[str, Any]
    omitted: Mapping[str, int]  # violations counted but not listed, by code
    new_state: AuditorState | None

    @property
    def ok(self) -> bool:
        """No violation: the published history is consistent with itself and with the past."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.code for v in self.violations))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "violation_codes": list(self.codes),
            "facts": dict(self.facts),
            "checks": [c.to_dict() for c in self.checks],
            "violations": [v.to_dict() for v in self.violations],
            "omitted": dict(self.omitted),
            "warnings": list(self.warnings),
        }

    def to_text(self) -> str:
        """The report for people."""
        f = self.facts
        lines = [f"certseal audit of {self.source}"]
        for label, key in (
            ("status-list key", "key"),
            ("status list", "status_list"),
            ("log", "log"),
            ("replayed", "replayed"),
        ):
            if f.get(key):
                lines.append(f"  {label:<16}{f[key]}")
        lines += ["", "checks"]
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        for c in self.checks:
            lines.append(f"  [{c.status}] {c.name:<{width}}  {c.detail}")
        if self.warnings:
            lines += ["", "warnings"] + [f"  - {w}" for w in self.warnings]
        if self.violations:
            lines += ["", "violations"]
            for v in self.violations:
                lines.append(f"  {v.code}: {v.detail}")
            for code, n in self.omitted.items():
                lines.append(f"  {code}: ... and {n} more")
        lines.append("")
        if self.ok:
            lines.append("result: CLEAN: no violation")
        else:
            lines.append(f"result: VIOLATIONS: {', '.join(self.codes)}")
        return "\n".join(lines) + "\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the audit -----------------------------------------------------------------------------


def audit(
    source: str,
    *,
    reference_time: dt.datetime,
    state: AuditorState | None = None,
    key: ec.EllipticCurvePublicKey | None = None,
    workers: int = 8,
) -> AuditReport:
    """Audit the site published at ``source`` (a folder or an http(s) URL).

    Args:
        reference_time: now, to tell an expired status list.
        state: what an earlier audit of this site remembered, if any.
        key: the status-list key to trust; by default the published ``certs/statuslist.pem``
            (trust on first use: compare its key id with the one the school announces).
        workers: parallel downloads.
    """
    return _Audit(source, reference_time, state, key, workers).run()


_T = TypeVar("_T")
_R = TypeVar("_R")


def _prefetch(
    fn: Callable[[_T], _R], items: Iterable[_T], workers: int
) -> Iterator[tuple[_T, _R | CertsealError]]:
    """``fn`` over ``items`` on a few threads, yielded in order, a bounded window ahead; a
    CertsealError is yielded in place of its item's result."""

    def run(item: _T) -> _R | CertsealError:
        try:
            return fn(item)
        except CertsealError as e:
            return e

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[_T, Future[_R | CertsealError]]] = []
        for item in items:
            pending.append((item, pool.submit(run, item)))
            if len(pending) >= 4 * workers:
                first, future = pending.pop(0)
                yield first, future.result()
        for first, future in pending:
            yield first, future.result()


class _Audit:
    """One run: collects checks and violations as it goes."""

    def __init__(
        self,
        source: str,
        now: dt.datetime,
        state: AuditorState | None,
        key: ec.EllipticCurvePublicKey | None,
        workers: int,
    ) -> None:
        self.source = source
        self.now = now
        self.state = state
        self.key = key
        self.workers = workers
        self.log = PublishedLog(published_fetcher(source, LOG_DIR))
        self.checks: list[AuditCheck] = []
        self.violations: list[Violation] = []
        self.omitted: dict[str, int] = {}
        self.warnings: list[str] = []
        self.facts: dict[str, Any] = {}
        self._failed: set[str] = set()
        self._per_code: dict[str, int] = {}
        self._lock = threading.Lock()  # checkpoints are opened on several threads

    # -- bookkeeping ---------------------------------------------------------------------
    def flag(self, check: str, code: str, detail: str) -> None:
        with self._lock:
            self._failed.add(check)
            n = self._per_code[code] = self._per_code.get(code, 0) + 1
            if n > MAX_PER_CODE:
                self.omitted[code] = n - MAX_PER_CODE
            else:
                self.violations.append(Violation(code, check, detail))

    def done(self, check: str, passed: str, status: CheckStatus | None = None) -> None:
        """Record a check: failed if anything was flagged under it, else ``status``."""
        if check in self._failed:
            found = sorted({v.code for v in self.violations if v.check == check})
            self.checks.append(AuditCheck(check, "failed", ", ".join(found)))
        else:
            self.checks.append(AuditCheck(check, status or "passed", passed))

    # -- the run -------------------------------------------------------------------------
    def run(self) -> AuditReport:
        key = self._key()
        trusted, ref = self._status_list(key) if key is not None else (None, None)
        checkpoints = self._checkpoints(key, ref) if key is not None else {}
        history: _History | None = None
        if checkpoints:
            latest = max(checkpoints.values(), key=lambda c: c.size)
            history = self._replay(latest, checkpoints, ref, trusted)
        else:
            for name in ("consistency", "log_entries", "tiles", "event_history", "status_vs_log"):
                self.done(name, "skipped: no checkpoint could be trusted", "skipped")
        if history is not None:
            self._remembered(history)
        else:
            self.done("remembered", "skipped: the log could not be replayed", "skipped")
        new_state = None
        if not self.violations and key is not None and trusted is not None and checkpoints:
            new_state = self._new_state(key, trusted, checkpoints, history)
        return AuditReport(
            self.source,
            tuple(sorted(self.checks, key=lambda c: CHECKS.index(c.name))),
            tuple(self.violations),
            tuple(self.warnings),
            self.facts,
            self.omitted,
            new_state,
        )

    def _key(self) -> ec.EllipticCurvePublicKey | None:
        name = "status_list_key"
        key, origin = self.key, "given with --key"
        if key is None:
            origin = "certs/statuslist.pem, as published: compare its id with the school's"
            try:
                pem = published_fetcher(self.source, "certs")(
                    "statuslist.pem", MAX_BYTES["certificate"]
                )
                key = ec_public_key(load_certificates(pem)[0])
            except CertsealError as e:
                self.flag(name, "unavailable", f"the status-list certificate: {e}")
                self.done(name, "")
                return None
        kid = key_id(key)
        self.facts["key"] = f"{kid} ({origin})"
        if self.state is not None and self.state.key_id != kid:
            self.flag(
                name, "key_changed", f"key {kid} signs now; key {self.state.key_id} signed before"
            )
        self.done(name, f"key id {kid}")
        return key

    def _status_list(
        self, key: ec.EllipticCurvePublicKey
    ) -> tuple[TrustedState | None, LogRef | None]:
        """The current status list and the checkpoint it names."""
        name = "status_list"
        kid = key_id(key)
        seen = self.state.status_version if self.state else 0
        try:
            trusted = load_trusted(
                published_fetcher(self.source, "status"),
                lambda k: key if k == kid else None,
                reference_time=self.now,
                last_seen_version=seen,
                allow_expired=True,
            )
        except RollbackError as e:
            self.flag(name, "rollback", e.en)
        except FetchError as e:
            self.flag(name, "unavailable", e.en)
        except CertsealError as e:
            self.flag(name, "status_list_invalid", e.en)
        else:
            ts = trusted.timestamp
            self.facts["status_list"] = (
                f"version {trusted.version}, issued {format_time(ts.issued_at)}, "
                f"expires {format_time(ts.expires)}"
            )
            if ts.is_expired(self.now):
                self.warnings.append(
                    f"the status list expired at {format_time(ts.expires)}: verifiers report "
                    "states as of its issue date until the school publishes again"
                )
            ref = self._log_ref(trusted)
            self.done(name, f"version {trusted.version}, signed by the status-list key")
            return trusted, ref
        self.done(name, "")
        return None, None

    def _log_ref(self, trusted: TrustedState) -> LogRef | None:
        try:
            ref = LogRef.from_snapshot(trusted.snapshot)
        except DeserializationError as e:
            self.flag("status_list", "status_list_invalid", e.en)
            return None
        if ref is None:
            self.flag(
                "status_list",
                "log_missing",
                f"snapshot version {trusted.version} names no transparency-log checkpoint",
            )
        return ref

    def _checkpoints(
        self, key: ec.EllipticCurvePublicKey, ref: LogRef | None
    ) -> dict[int, tlog.Checkpoint]:
        """Every published checkpoint whose signature verifies, by size."""
        name = "checkpoints"
        try:
            note = self.log.note()
        except FetchError as e:
            self.flag(name, "unavailable", f"{LOG_DIR}/checkpoint: {e.en}")
            self.done(name, "")
            return {}
        origin = ref.origin if ref else note.split(b"\n", 1)[0].decode("utf-8", "replace")
        if self.state is not None and self.state.origin != origin:
            self.flag(name, "origin_changed", f"log {origin!r}; {self.state.origin!r} before")
        found: dict[int, tlog.Checkpoint] = {}
        latest = self._open(origin, key, None)
        try:
            sizes = self.log.sizes()
        except CertsealError as e:
            self.flag(name, "unavailable", f"{LOG_DIR}/checkpoints.json: {e.en}")
            sizes = []
        wanted = set(sizes) | ({latest.size} if latest else set()) | ({ref.size} if ref else set())
        for size, cp in _prefetch(lambda s: self._open(origin, key, s), sorted(wanted), 8):
            if isinstance(cp, tlog.Checkpoint):
                found[size] = cp
        if latest is not None:
            if latest.size in found and found[latest.size].root_hash != latest.root_hash:
                self.flag(
                    name,
                    "fork",
                    f"{LOG_DIR}/checkpoint and {LOG_DIR}/{checkpoint_path(latest.size)} both "
                    f"have size {latest.size} but different roots",
                )
            found.setdefault(latest.size, latest)
            bigger = [s for s in found if s > latest.size]
            if bigger:
                self.flag(
                    name,
                    "truncated_log",
                    f"the latest checkpoint has {latest.size} leaves, but checkpoint "
                    f"{max(bigger)} was published",
                )
        if ref is not None and ref.size in found and not ref.matches(found[ref.size]):
            self.flag(
                name,
                "fork",
                f"the status list relies on checkpoint {ref.size} with root {_b64(ref.root)}, "
                f"but the published checkpoint {ref.size} has root "
                f"{_b64(found[ref.size].root_hash)}",
            )
        self._forks_with_the_past(name, found, latest)
        self._checkpoint_times(name, found)
        if latest is not None:
            self.facts["log"] = (
                f"{latest.origin}, checkpoint {latest.size} root {_b64(latest.root_hash)} "
                f"({checkpoint_time(latest) or 'no time'}); checkpoints published: {len(found)}"
            )
        self.done(name, f"{len(found)} checkpoint(s), each signed by the status-list key")
        if latest is None:
            return {}
        return {s: cp for s, cp in found.items() if s <= latest.size}

    def _open(
        self, origin: str, key: ec.EllipticCurvePublicKey, size: int | None
    ) -> tlog.Checkpoint | None:
        path = f"{LOG_DIR}/{checkpoint_path(size)}"
        try:
            cp = self.log.open(origin, [key], size)
        except FetchError as e:
            self.flag("checkpoints", "unavailable", f"{path}: {e.en}")
        except CertsealError as e:
            self.flag("checkpoints", "checkpoint_signature", f"{path}: {e.en}")
        else:
            if cp.origin == origin:
                return cp
            self.flag("checkpoints", "checkpoint_signature", f"{path} names log {cp.origin!r}")
        return None

    def _forks_with_the_past(
        self, name: str, found: dict[int, tlog.Checkpoint], latest: tlog.Checkpoint | None
    ) -> None:
        for seen in self.state.checkpoints if self.state else ():
            if latest is not None and seen.size > latest.size:
                self.flag(
                    name,
                    "truncated_log",
                    f"checkpoint {seen.size} was seen before; the log now ends at {latest.size}",
                )
            cp = found.get(seen.size)
            if cp is not None and cp.root_hash != seen.root:
                self.flag(
                    name,
                    "fork",
                    f"checkpoint {seen.size} has root {_b64(cp.root_hash)} now and had root "
                    f"{_b64(seen.root)} when seen before",
                )

    def _checkpoint_times(self, name: str, found: dict[int, tlog.Checkpoint]) -> None:
        previous: tuple[int, str] | None = None
        for size in sorted(found):
            time = checkpoint_time(found[size])
            if time is None:
                self.flag(name, "checkpoint_signature", f"checkpoint {size} carries no time line")
                continue
            if previous is not None and time < previous[1]:
                self.flag(
                    name,
                    "backdated_checkpoint",
                    f"checkpoint {size} is dated {time}, before checkpoint {previous[0]} "
                    f"({previous[1]})",
                )
            previous = (size, time)

    # -- the replay ----------------------------------------------------------------------
    def _replay(
        self,
        latest: tlog.Checkpoint,
        checkpoints: dict[int, tlog.Checkpoint],
        ref: LogRef | None,
        trusted: TrustedState | None,
    ) -> _History:
        n = latest.size
        bounds = [(s, checkpoint_time(cp) or "") for s, cp in sorted(checkpoints.items())]
        history = _History(self, bounds)
        compare_at = ref.size if ref is not None and trusted is not None else None
        if compare_at == 0:
            self._status_vs_log(trusted, ref, history)  # type: ignore[arg-type]
        hashes = bytearray()
        bundles = range((n + (1 << TILE_HEIGHT) - 1) >> TILE_HEIGHT)
        complete = True
        for index, leaves in _prefetch(lambda b: self.log.bundle(b, n), bundles, self.workers):
            first, width = index << TILE_HEIGHT, tile_width(0, index, n)
            if isinstance(leaves, CertsealError) or len(leaves) != width:
                self._bad_bundle(index, width, leaves)
                if isinstance(leaves, CertsealError) or len(leaves) < width:
                    complete = False
                    break
            for i, leaf in enumerate(leaves[:width], start=first):
                hashes += tlog.leaf_hash(leaf)
                history.add(i, leaf)
                if i + 1 == compare_at:
                    self._status_vs_log(trusted, ref, history)  # type: ignore[arg-type]
        self.facts["replayed"] = (
            f"{history.count} leaves: {history.documents} documents; "
            + ", ".join(f"{k} {v}" for k, v in history.kinds.items())
        )
        self.done("event_history", "no event contradicts an earlier one, none is back-dated")
        if compare_at is None:
            self.done("status_vs_log", "skipped: no status list to compare", "skipped")
        elif compare_at > history.count:
            self.flag(
                "status_vs_log",
                "truncated_log",
                f"the status list relies on checkpoint {compare_at}, but the log holds "
                f"{history.count} leaves",
            )
            self.done("status_vs_log", "")
        if not complete:
            self.done("log_entries", "")
            for check in ("consistency", "tiles"):
                self.done(check, "skipped: the log ends early", "skipped")
            return history
        levels = _levels(hashes)
        tree = TiledTree(n, TileCache(memory_tiles(levels)))
        entries_ok = tree.root() == latest.root_hash
        if not entries_ok:
            self.flag(
                "log_entries",
                "entries_mismatch",
                f"the {n} published leaves hash to {_b64(tree.root())}, not to the root "
                f"{_b64(latest.root_hash)} of the signed checkpoint {n}",
            )
        self.done("log_entries", f"{n} leaves, numbered in order, hash to the signed root")
        self._consistency(checkpoints, tree if entries_ok else None)
        self._tiles(n, levels)
        return history

    def _bad_bundle(self, index: int, width: int, leaves: list[bytes] | CertsealError) -> None:
        first = index << TILE_HEIGHT
        where = f"entry bundle {index} (leaves {first} to {first + width - 1})"
        if isinstance(leaves, DeserializationError):
            self.flag("log_entries", "malformed_leaf", f"{where}: {leaves.en}")
        elif isinstance(leaves, CertsealError):
            self.flag("log_entries", "truncated_log", f"{where} is missing: {leaves.en}")
        elif len(leaves) < width:
            self.flag("log_entries", "truncated_log", f"{where} holds only {len(leaves)} leaves")
        else:
            self.flag("log_entries", "malformed_leaf", f"{where} holds {len(leaves)} leaves")

    def _consistency(self, checkpoints: dict[int, tlog.Checkpoint], tree: TiledTree | None) -> None:
        """Each checkpoint, published or remembered, is a prefix of every later one."""
        name = "consistency"
        chain = {s: cp.root_hash for s, cp in checkpoints.items()}
        for seen in self.state.checkpoints if self.state else ():
            chain.setdefault(seen.size, seen.root)
        sizes = sorted(chain)
        for old, new in itertools.pairwise(sizes):
            if not self._extends(old, chain[old], new, chain[new], tree):
                self.flag(
                    name,
                    "inconsistent_history",
                    f"checkpoint {new} does not extend checkpoint {old}: leaves among the first "
                    f"{old} were removed or changed",
                )
        listed = sorted(checkpoints)
        for old, new in itertools.pairwise(listed):
            if old == 0:
                continue
            try:
                proof = self.log.consistency(old, new)
                tlog.verify_consistency(proof, chain[old], chain[new])
            except FetchError:
                self.warnings.append(f"no published proof {LOG_DIR}/{consistency_path(old, new)}")
            except CertsealError as e:
                self.flag(name, "bad_proof", f"{LOG_DIR}/{consistency_path(old, new)}: {e.en}")
        self.done(name, f"{len(sizes)} checkpoint(s), each a prefix of the next")

    def _extends(
        self, old: int, old_root: bytes, new: int, new_root: bytes, tree: TiledTree | None
    ) -> bool:
        if tree is not None and new <= tree.size:
            # The replayed leaves match the latest root: they decide for every smaller size.
            return tree.root(old) == old_root and tree.root(new) == new_root
        try:
            proof = self.log.tree(new).consistency_proof(old)
            tlog.verify_consistency(proof, old_root, new_root)
        except (CertsealError, ValueError):
            return False
        return True

    def _tiles(self, n: int, levels: list[bytes]) -> None:
        """The published tiles are the tree's: what verifiers prove inclusion with."""
        wanted = [
            (level, index, tile_width(level, index, n))
            for level in range(len(levels))
            for index in range((len(levels[level]) + TILE_BYTES - 1) // TILE_BYTES)
        ]
        expected = memory_tiles(levels)

        def read(t: tuple[int, int, int]) -> bytes:
            return self.log.fetch(tile_path(*t), MAX_BYTES["tile"] + 1)

        for (level, index, width), data in _prefetch(read, wanted, self.workers):
            if data != expected(level, index, width):
                why = data.en if isinstance(data, CertsealError) else "its hashes differ"
                self.flag("tiles", "tile_mismatch", f"{tile_path(level, index, width)}: {why}")
        self.done("tiles", f"{len(wanted)} tile(s), each the replayed tree's")

    # -- the status list against the log -------------------------------------------------
    def _status_vs_log(self, trusted: TrustedState, ref: LogRef, history: _History) -> None:
        name = "status_vs_log"
        snap = trusted.snapshot
        fetch = published_fetcher(self.source, "status")
        expected = history.shard_bodies(snap.shard_prefix_len)
        published: dict[str, FileRef] = {}
        for prefix, bucket in _prefetch(
            lambda p: Bucket.from_bytes(
                fetch_pinned(fetch, bucket_path(snap.buckets[p]), snap.buckets[p], "bucket")
            ),
            sorted(snap.buckets),
            self.workers,
        ):
            if isinstance(bucket, CertsealError):
                self.flag(name, "status_list_invalid", f"bucket {prefix}: {bucket.en}")
                continue
            published.update(bucket.shards)
        differing = []
        for prefix in sorted(set(expected) | set(published)):
            body = expected.get(prefix)
            pin = published.get(prefix)
            if body is None or pin is None or sha256_hex(body) != pin.sha256:
                differing.append(prefix)
        mine: dict[str, list[str]] = {p: [] for p in differing}
        if differing:
            for sha in history.docs:
                group = mine.get(sha[: snap.shard_prefix_len])
                if group is not None:
                    group.append(sha)
        for prefix, shard in _prefetch(
            lambda p: _published_shard(fetch, published.get(p), p), differing, self.workers
        ):
            if isinstance(shard, CertsealError):
                self.flag(name, "status_list_invalid", f"shard {prefix}: {shard.en}")
                continue
            self._diff_shard(name, history, mine[prefix], shard)
        counts = history.counts()
        if dict(snap.counts) != counts:
            self.flag(
                name,
                "status_mismatch",
                f"snapshot {snap.version} counts {dict(snap.counts)}; the log says {counts}",
            )
        self.done(
            name,
            f"status list version {snap.version} ({sum(counts.values())} documents) is exactly "
            f"the log at checkpoint {ref.size}",
        )

    def _diff_shard(self, name: str, history: _History, mine: list[str], theirs: Shard) -> None:
        """Name every document on which a shard and the log disagree."""
        have = {e.sha256: e for e in theirs.entries}
        found = False
        for sha in sorted(set(mine) | set(have)):
            w, h = history.entry(sha), have.get(sha)
            if w == h:
                continue
            found = True
            if h is None:
                detail = f"document {sha} is in the log but not in the status list"
            elif w is None:
                detail = f"document {sha} is listed ({h.state}) but the log never issued it"
            else:
                fields = [k for k, v in w.to_dict().items() if h.to_dict().get(k) != v]
                detail = (
                    f"document {sha}: the status list says {h.state}, the log says {w.state} "
                    f"(differs in {', '.join(fields)})"
                )
            self.flag(name, "status_mismatch", detail)
        if not found:
            self.flag(name, "status_mismatch", f"shard {theirs.prefix} is not in canonical form")

    # -- memory --------------------------------------------------------------------------
    def _remembered(self, history: _History) -> None:
        name = "remembered"
        if self.state is None:
            self.done(name, "first audit of this site: nothing remembered yet", "skipped")
            return
        for sha, index in self.state.revoked.items():
            doc = history.docs.get(sha)
            if doc is None or doc[0] != _REVOKED or doc[8][-1] != index:
                self.flag(
                    name,
                    "revocation_undone",
                    f"document {sha} was revoked at leaf {index} when last audited; the log now "
                    f"shows it {'absent' if doc is None else doc[0]}",
                )
        for sha, index in self.state.superseded.items():
            doc = history.docs.get(sha)
            if doc is None or doc[4] is None or index not in doc[8]:
                self.flag(
                    name,
                    "supersession_undone",
                    f"document {sha} was superseded at leaf {index} when last audited; the log "
                    f"now shows it {'absent' if doc is None else doc[0]}",
                )
        self.done(
            name,
            f"revocations seen before: {len(self.state.revoked)}, supersessions: "
            f"{len(self.state.superseded)}; all still in the log",
        )

    def _new_state(
        self,
        key: ec.EllipticCurvePublicKey,
        trusted: TrustedState,
        checkpoints: dict[int, tlog.Checkpoint],
        history: _History | None,
    ) -> AuditorState:
        seen = {c.size: c for c in self.state.checkpoints} if self.state else {}
        for cp in checkpoints.values():
            seen[cp.size] = SeenCheckpoint(cp.size, cp.root_hash, checkpoint_time(cp))
        docs = history.docs if history else {}
        return AuditorState(
            key_id(key),
            next(iter(checkpoints.values())).origin,
            trusted.version,
            tuple(seen[s] for s in sorted(seen)),
            {sha: d[8][-1] for sha, d in docs.items() if d[0] == _REVOKED},
            {sha: d[8][1] for sha, d in docs.items() if d[4] is not None},
        )


def _levels(leaf_hashes: bytearray) -> list[bytes]:
    """Every tile level of the tree over these leaf hashes (level 0: the leaf hashes)."""
    levels = [bytes(leaf_hashes)]
    while len(levels[-1]) >= TILE_BYTES:
        levels.append(subtree_roots(levels[-1]))
    return levels


def _published_shard(fetch: Callable[[str, int], bytes], ref: FileRef | None, prefix: str) -> Shard:
    if ref is None:
        return Shard(prefix, ())
    return Shard.from_bytes(fetch_pinned(fetch, shard_path(ref), ref, "shard"))


class _History:
    """The replay: every document's state so far, and the rules no event may break."""

    def __init__(self, audit: _Audit, bounds: list[tuple[int, str]]) -> None:
        self.audit = audit
        self.docs: dict[str, _State] = {}
        self.count = 0
        self.kinds = {"issued": 0, "superseded": 0, "revoked": 0}
        self._bounds = bounds  # (checkpoint size, time), ascending
        self._next = 0  # the first checkpoint that holds the current leaf
        self._last = ("", -1)  # time and index of the previous leaf

    @property
    def documents(self) -> int:
        return len(self.docs)

    def flag(self, code: str, detail: str) -> None:
        self.audit.flag("event_history", code, detail)

    def add(self, i: int, leaf: bytes) -> None:
        self.count += 1
        try:
            index, event, sha, doc_type, at, limit, successor, reason = parse_leaf(leaf)
        except DeserializationError as e:
            self.audit.flag("log_entries", "malformed_leaf", f"leaf {i}: {e.en}")
            return
        if index != i:
            self.audit.flag(
                "log_entries",
                "missing_leaf" if index > i else "malformed_leaf",
                f"the leaf at position {i} is numbered {index}"
                + (f": leaves {i} to {index - 1} were removed" if index > i else ""),
            )
        self.kinds[event] += 1
        self._dates(i, event, sha, at)
        doc = self.docs.get(sha)
        if event == "issued":
            if doc is None:
                self.docs[sha] = [_ACTIVE, doc_type, at, limit, None, None, None, None, [i]]
                return
            code = {_REVOKED: "revocation_undone", _SUPERSEDED: "supersession_undone"}
            self.flag(
                code.get(doc[0], "duplicate_event"),
                f"leaf {i} issues {sha} again; it was {doc[0]} at leaf {doc[8][-1]}",
            )
        elif doc is None:
            self.flag("unknown_document", f"leaf {i} ({event} {sha}): no earlier leaf issues it")
        elif doc[0] == _REVOKED:
            self.flag(
                "revocation_undone",
                f"leaf {i} ({event} {sha}): the document was revoked at leaf {doc[8][-1]}",
            )
        elif event == "superseded" and doc[4] is not None:
            self.flag(
                "supersession_undone",
                f"leaf {i} supersedes {sha} again: it was superseded by {doc[4]} at leaf "
                f"{doc[8][1]}",
            )
        else:
            if event == "superseded":
                if successor not in self.docs:
                    self.flag(
                        "missing_successor",
                        f"leaf {i} supersedes {sha} by {successor}, which no earlier leaf issues",
                    )
                doc[0], doc[4], doc[5] = _SUPERSEDED, successor, at
            else:
                doc[0], doc[6], doc[7] = _REVOKED, reason, at
            doc[8].append(i)

    def _dates(self, i: int, event: str, sha: str, at: str) -> None:
        bounds = self._bounds
        while self._next < len(bounds) and bounds[self._next][0] <= i:
            self._next += 1
        if self._next > 0 and at < bounds[self._next - 1][1]:
            size, time = bounds[self._next - 1]
            self.flag(
                "backdated_event",
                f"leaf {i} ({event} {sha}) is dated {at}, before checkpoint {size} ({time}) "
                "that was published without it",
            )
        if self._next < len(bounds) and at > bounds[self._next][1]:
            size, time = bounds[self._next]
            self.flag(
                "postdated_event",
                f"leaf {i} ({event} {sha}) is dated {at}, after checkpoint {size} ({time}) "
                "that holds it",
            )
        if at < self._last[0]:
            self.flag(
                "backdated_event",
                f"leaf {i} ({event} {sha}) is dated {at}, before leaf {self._last[1]} "
                f"({self._last[0]}) recorded earlier",
            )
        else:
            self._last = (at, i)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for doc in self.docs.values():
            out[doc[0]] += 1
        return out

    def shard_bodies(self, prefix_len: int) -> dict[str, bytes]:
        """The status list's shard files as the log implies them, by prefix.

        The bytes are :meth:`certseal.statuslist.Shard.to_bytes` of :meth:`entry`'s entries,
        built here without constructing them: at millions of documents, the model's checks (and
        the float walk of ``canonical_bytes``) would cost more than the rest of the audit, and
        every value comes from a leaf already validated. A test holds the two byte for byte.
        """
        out: dict[str, bytes] = {}
        group: list[dict[str, Any]] = []
        prefix = ""
        for sha in sorted(self.docs):
            if sha[:prefix_len] != prefix:
                if group:
                    out[prefix] = _shard_bytes(prefix, group)
                prefix, group = sha[:prefix_len], []
            d = self.docs[sha]
            e = {"sha256": sha, "type": d[1], "issued_at": d[2], "limit": d[3], "state": d[0]}
            if d[4] is not None:
                e["successor"], e["superseded_at"] = d[4], d[5]
            if d[6] is not None:
                e["reason"], e["revoked_at"] = d[6], d[7]
            e["log"] = d[8]
            group.append(e)
        if group:
            out[prefix] = _shard_bytes(prefix, group)
        return out

    def entry(self, sha: str) -> Entry | None:
        """The status-list entry the log implies for one document, as the model builds it."""
        d = self.docs.get(sha)
        if d is None:
            return None
        return Entry(
            sha256=sha,
            doc_type=d[1],
            issued_at=d[2],
            limit=d[3],
            state=d[0],
            successor=d[4],
            superseded_at=d[5],
            reason_code=d[6],
            revoked_at=d[7],
            log_indexes=tuple(d[8]),
        )


def _shard_bytes(prefix: str, entries: list[dict[str, Any]]) -> bytes:
    # canonical_bytes()'s serialization, without its walk for floats (there are none here).
    body = {"_type": "certseal/shard", "prefix": prefix, "entries": entries}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
