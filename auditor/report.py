"""What an audit reports: every check, passed or failed, every violation by a stable code.

The model has no I/O. :class:`Recorder` collects one run's findings as it goes (from several
threads), caps what it lists per code and counts the rest, and builds the frozen
:class:`AuditReport`, whose ``ok`` is the one summary.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from certseal.errors import InputError

if TYPE_CHECKING:
    from auditor.state import AuditorState

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
    "key_mismatch": (
        "the published status-list key is not the pinned one",
        "公開的狀態清單金鑰與釘選的金鑰不同",
    ),
    "key_unpinned": (
        "the status-list key was trusted as the site published it, pinned by nothing: a history "
        "rewritten and re-signed with another key would pass",
        "狀態清單金鑰僅依網站公開者採信，未經任何釘選：以他人金鑰重新簽署的改寫紀錄也會通過",
    ),
    "status_list_invalid": (
        "the status list is malformed or not signed by the status-list key",
        "狀態清單格式錯誤或非由狀態清單金鑰簽署",
    ),
    "rollback": ("the status list is older than one seen before", "狀態清單舊於先前所見版本"),
    "snapshot_missing": (
        "an earlier status-list snapshot was deleted",
        "先前公布的狀態清單快照已被刪除",
    ),
    "snapshot_changed": (
        "a status-list snapshot differs from the one seen before under the same version",
        "同一版本的狀態清單快照與先前所見不同",
    ),
    "shard_tampered": (
        "a status-list shard or bucket is missing or is not the file its signed snapshot pins",
        "狀態清單的分片或索引檔遺失，或與簽署快照所釘選的雜湊不符",
    ),
    "log_missing": ("the status list names no transparency log", "狀態清單未指明透明紀錄"),
    "origin_changed": ("the log is not the one seen before", "透明紀錄與先前所見不是同一份"),
    "checkpoint_signature": (
        "a checkpoint is malformed or not signed by the status-list key",
        "檢查點格式錯誤或非由狀態清單金鑰簽署",
    ),
    "listing_incomplete": (
        "checkpoints.json does not list every checkpoint that was published",
        "checkpoints.json 未列出所有已公布的檢查點",
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
        "a published hash tile or entry bundle is missing or not the tree's",
        "公開的雜湊圖塊或紀錄包缺漏或與樹不符",
    ),
    "bad_proof": (
        "a published consistency proof does not verify",
        "公開的一致性證明無法驗證",
    ),
    "proof_missing": (
        "the consistency proof between two published checkpoints was deleted",
        "兩個已公布檢查點之間的一致性證明已被刪除",
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


class UnknownViolationError(InputError):
    """A violation code that is not in :data:`VIOLATIONS` (a programming error, said plainly)."""

    code = "unknown_violation"


@dataclass(frozen=True)
class Violation:
    """One finding: a stable code (see :data:`VIOLATIONS`) and what exactly is wrong.

    Each audit has its own catalog of codes (``catalog``); a subclass names another one.
    """

    catalog: ClassVar[Mapping[str, tuple[str, str]]] = VIOLATIONS

    code: str
    check: str
    detail: str

    def __post_init__(self) -> None:
        if self.code not in self.catalog:
            raise UnknownViolationError(f"unknown violation code {self.code}")

    @property
    def title(self) -> str:
        return self.catalog[self.code][0]

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


class Findings:
    """What every audit's report says at the top: clean or not, and which codes it found."""

    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        """No violation: the published history is consistent with itself and with the past."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.code for v in self.violations))


@dataclass(frozen=True)
class AuditReport(Findings):
    """Every check the audit ran, every violation, and the state to remember if it is clean."""

    source: str
    checks: tuple[AuditCheck, ...]
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]
    facts: Mapping[str, Any]
    omitted: Mapping[str, int]  # violations counted but not listed, by code
    new_state: AuditorState | None

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


class Recorder:
    """One run's checks, violations, warnings and facts, collected as the run goes.

    Thread-safe (checkpoints and files are read on several threads). At most
    :data:`MAX_PER_CODE` violations are listed per code; the others are counted.
    """

    def __init__(self) -> None:
        self.checks: list[AuditCheck] = []
        self.violations: list[Violation] = []
        self.omitted: dict[str, int] = {}
        self.warnings: list[str] = []
        self.facts: dict[str, Any] = {}
        self._failed: set[str] = set()
        self._per_code: dict[str, int] = {}
        self._lock = threading.Lock()

    def flag(self, check: str, code: str, detail: str) -> None:
        with self._lock:
            self._failed.add(check)
            n = self._per_code[code] = self._per_code.get(code, 0) + 1
            if n > MAX_PER_CODE:
                self.omitted[code] = n - MAX_PER_CODE
            else:
                self.violations.append(Violation(code, check, detail))

    def count(self, check: str, code: str, n: int) -> None:
        """Count ``n`` more violations of ``code`` that are not listed one by one."""
        if n <= 0:
            return
        with self._lock:
            self._failed.add(check)
            self._per_code[code] = self._per_code.get(code, 0) + n
            self.omitted[code] = max(0, self._per_code[code] - MAX_PER_CODE)

    def failed(self, check: str) -> bool:
        return check in self._failed

    def warn(self, text: str) -> None:
        with self._lock:
            self.warnings.append(text)

    def done(self, check: str, passed: str, status: CheckStatus | None = None) -> None:
        """Record a check: failed if anything was flagged under it, else ``status``."""
        if check in self._failed:
            found = sorted({v.code for v in self.violations if v.check == check})
            self.checks.append(AuditCheck(check, "failed", ", ".join(found)))
        else:
            self.checks.append(AuditCheck(check, status or "passed", passed))

    def report(self, source: str, new_state: AuditorState | None) -> AuditReport:
        return AuditReport(
            source,
            tuple(sorted(self.checks, key=lambda c: CHECKS.index(c.name))),
            tuple(self.violations),
            tuple(self.warnings),
            dict(self.facts),
            dict(self.omitted),
            new_state,
        )


class LeafFindings:
    """Findings about leaves, gathered out of log order (the replay folds documents group by
    group) and handed to the :class:`Recorder` in log order: the earliest ones are listed."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, leaf: int, check: str, code: str, detail: str) -> None:
        key = (check, code)
        kept = self._kept.setdefault(key, [])
        self._counts[key] = self._counts.get(key, 0) + 1
        heapq.heappush(kept, (-leaf, detail))  # a max-heap: the latest leaf goes first
        if len(kept) > MAX_PER_CODE:
            heapq.heappop(kept)

    def flush(self, recorder: Recorder) -> None:
        """Flag every kept finding, earliest leaf first; count the ones not kept."""
        ordered = sorted(
            (-neg, check, code, detail)
            for (check, code), kept in self._kept.items()
            for neg, detail in kept
        )
        for _, check, code, detail in ordered:
            recorder.flag(check, code, detail)
        for (check, code), n in self._counts.items():
            recorder.count(check, code, n - len(self._kept[(check, code)]))
        self._kept.clear()
        self._counts.clear()
