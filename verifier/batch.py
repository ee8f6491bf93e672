"""Many files in one request: each one verified exactly as a single upload, within limits.

Credential evaluators check documents by the hundred. A batch is several files, or ZIP files
that hold them (here a ZIP is a container, unlike the single check, where it means "extract it
first"). Each file goes through the same engine call as a single upload, so it gets the same
verdict, reasons and checks, and counts toward its verification limit the same way.

A ZIP is read from memory with :mod:`zipfile`, and nothing is written to disk. Its headers are
the sender's claims, so every size is checked twice: the declared sizes before anything is
read, and the bytes actually produced while they are decompressed, in bounded chunks. Any
problem with the archive (a ZIP inside it, a name that leaves its folder, two entries of one
name, a "ZIP bomb", damage) refuses the whole batch with a reason of its own: an archive built
to trick an extractor is not an evaluator's folder of documents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import posixpath
import stat
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verifier.messages import Lang
from verifier.pdfcheck import sniff
from verifier.result import Check, Reason, Verdict, Verification

MIB = 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
CHUNK = 64 * 1024
MAX_NAME = 255
# Folders that archivers add beside the files (macOS's resource forks): not documents.
JUNK_FOLDERS = ("__MACOSX/",)
# Deflate is what every desktop ZIP tool writes. zipfile bounds each chunk it inflates; it
# cannot bound a bzip2 or LZMA chunk, so those methods are refused rather than trusted.
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold (docs/evaluators.md, "Limits")."""

    max_files: int = 100  # files checked, after ZIP files are opened
    max_total_bytes: int = 20 * MIB  # the files checked, together, as extracted
    max_ratio: int = 100  # how much more an entry may expand than it is compressed
    ratio_floor: int = MIB  # entries that expand to less than this are not ratio-checked

    def __post_init__(self) -> None:
        if min(self.max_files, self.max_total_bytes, self.max_ratio) < 1:
            raise ValueError("batch limits must be positive")

    @property
    def max_request_bytes(self) -> int:
        """The most a batch request's body may hold: the files and their multipart envelopes."""
        return self.max_total_bytes + 64 * 1024 + 1024 * self.max_files


@dataclass(frozen=True)
class Upload:
    """One file as it came: its name (as the sender gave it, for people) and its bytes."""

    name: str
    data: bytes
    truncated: bool = False  # read only up to one byte past the per-file limit

    @classmethod
    def of(cls, name: str | None, data: bytes) -> Upload:
        return cls(clean_name(name or ""), data)


def clean_name(name: str) -> str:
    """A name safe to show and to put in a receipt or a CSV: no control characters, bounded."""
    text = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return (text or "-")[:MAX_NAME]


@dataclass(frozen=True)
class BatchItem:
    name: str
    size: int
    verification: Verification
    sha256: str | None  # of the bytes checked; None when they were not read in full

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, **self.verification.to_dict(lang)}


@dataclass(frozen=True)
class BatchResult:
    """Every file's answer, or the one reason the batch was refused as a whole."""

    items: tuple[BatchItem, ...]
    refusal: Verification | None = None

    @property
    def result(self) -> Verdict:
        if self.refusal is not None:
            return "failure"
        order: tuple[Verdict, ...] = ("success", "warning", "failure")
        return max((i.verification.result for i in self.items), key=order.index)

    @property
    def http_status(self) -> int:
        """The batch's own status: 200 once its files were checked, whatever their verdicts
        (each file's answer says what a single upload's status would have)."""
        return 200 if self.refusal is None else self.refusal.http_status

    def summary(self) -> dict[str, int]:
        out = {"success": 0, "warning": 0, "failure": 0}
        for i in self.items:
            out[i.verification.result] += 1
        return out

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        refusal = self.refusal.to_dict(lang) if self.refusal is not None else None
        return {
            "result": self.result,
            "reasons": refusal["reasons"] if refusal else [],
            "checks": refusal["checks"] if refusal else [],
            "count": len(self.items),
            "summary": self.summary(),
            "files": [i.to_dict(lang) for i in self.items],
            "lang": lang,
        }


class BatchRefused(Exception):
    """The batch as a whole is not checked; carries the answer that says why."""

    def __init__(self, answer: Verification) -> None:
        super().__init__(answer.codes)
        self.answer = answer


def refusal(
    code: str, params: dict[str, Any], what: str, what_zh: str, status: int = 400
) -> Verification:
    """A batch refused before any file was checked: one reason, one failed ``upload`` check."""
    return Verification(
        (Check("upload", "failed", "batch_refused", {"what": what, "what_zh": what_zh}),),
        (Reason(code, params),),
        http_status=status,
    )


def receipt_unavailable() -> Verification:
    return Verification(
        (Check("upload", "failed", "receipt_off"),),
        (Reason("receipt_unavailable"),),
        http_status=400,
    )


def expand(uploads: Sequence[Upload], limits: BatchLimits, max_file_bytes: int) -> list[Upload]:
    """The files to check: uploads as they are, ZIP files replaced by their entries.

    Raises:
        BatchRefused: empty, too many files, too many bytes, or an archive that is not a plain
            folder of files.
    """
    if not uploads or all(not u.data and u.name == "-" for u in uploads):
        raise BatchRefused(refusal("batch_empty", {}, "no file was sent", "未收到任何檔案"))
    out: list[Upload] = []
    budget = _Budget(limits)
    for u in uploads:
        if u.data[:4] in ZIP_MAGIC:
            out += _entries(u, limits, max_file_bytes, budget)
        else:
            budget.take(len(u.data), u.name)
            out.append(u)
        budget.count(len(out))
    return out


class _Budget:
    """Bytes and files left in the batch, charged as they are read."""

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self.left = limits.max_total_bytes

    def take(self, n: int, name: str) -> None:
        self.left -= n
        if self.left < 0:
            mb = self.limits.max_total_bytes // MIB
            raise BatchRefused(
                refusal(
                    "batch_too_large",
                    {"limit_mb": mb, "where": f" (at {name})", "where_zh": f"（於 {name}）"},
                    f"more than {mb} MB",
                    f"超過 {mb} MB",
                    413,
                )
            )

    def count(self, n: int) -> None:
        if n > self.limits.max_files:
            raise BatchRefused(_too_many(n, self.limits.max_files))


def too_large(max_total_bytes: int) -> BatchResult:
    """A batch request whose body is over the limit, refused before any of it is read."""
    mb = max_total_bytes // MIB
    return BatchResult(
        (),
        refusal(
            "batch_too_large",
            {"limit_mb": mb, "where": "", "where_zh": ""},
            f"more than {mb} MB",
            f"超過 {mb} MB",
            413,
        ),
    )


def too_many_parts(max_parts: int, limit: int) -> BatchResult:
    """A batch form of more parts than the form parser reads (werkzeug's ``max_form_parts``):
    more files than a batch may hold, not counted further."""
    return BatchResult((), _too_many(f"{max_parts}+", limit))


def _too_many(n: int | str, limit: int) -> Verification:
    return refusal(
        "batch_too_many",
        {"count": n, "limit": limit},
        f"{n} files where at most {limit} are checked at once",
        f"共 {n} 個檔案，每批最多 {limit} 個",
    )


def _entries(
    upload: Upload, limits: BatchLimits, max_file_bytes: int, budget: _Budget
) -> list[Upload]:
    """A ZIP file's entries, every claim of its headers checked before it is relied on."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise BatchRefused(_damaged(upload.name, str(e) or type(e).__name__)) from None
    files = [i for i in infos if not i.is_dir() and not i.filename.startswith(JUNK_FOLDERS)]
    if len(files) > limits.max_files:
        raise BatchRefused(_too_many(len(files), limits.max_files))
    seen: set[str] = set()
    for info in files:
        name = info.filename
        _check_name(name, info)
        key = unicodedata.normalize("NFC", posixpath.normpath(name)).casefold()
        if key in seen:
            raise BatchRefused(
                refusal(
                    "archive_duplicate_name",
                    {"member": clean_name(name)},
                    f"two entries named {clean_name(name)}",
                    f"兩個名為 {clean_name(name)} 的項目",
                )
            )
        seen.add(key)
        if info.flag_bits & 0x1:
            raise BatchRefused(_damaged(upload.name, f"{clean_name(name)} needs a password"))
        if info.compress_type not in METHODS:
            raise BatchRefused(
                _damaged(
                    upload.name, f"{clean_name(name)} uses a compression method other than Deflate"
                )
            )
        if _bomb(info.file_size, info.compress_size, limits):
            raise BatchRefused(_ratio(name, limits))
    out = []
    with archive:
        for info in files:
            data, truncated = _read(archive, info, limits, max_file_bytes, budget)
            if any(r.code == "zip_archive" for r in sniff(data[:1024], len(data) + 1).reasons):
                raise BatchRefused(
                    refusal(
                        "archive_nested",
                        {"member": clean_name(info.filename)},
                        f"an archive inside the ZIP file: {clean_name(info.filename)}",
                        f"ZIP 檔中的壓縮檔：{clean_name(info.filename)}",
                    )
                )
            out.append(Upload(clean_name(f"{upload.name}/{info.filename}"), data, truncated))
    return out


def _read(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: BatchLimits,
    max_file_bytes: int,
    budget: _Budget,
) -> tuple[bytes, bool]:
    """An entry's bytes, inflated chunk by chunk: at most one byte past the per-file limit
    (enough for the engine to answer ``too_large``), and never past the batch's budget or the
    ratio limit, whatever the headers said."""
    cap = max_file_bytes + 1
    buf = bytearray()
    try:
        with archive.open(info) as f:
            while len(buf) < cap:
                chunk = f.read(min(CHUNK, cap - len(buf)))
                if not chunk:
                    break
                buf += chunk
                budget.take(len(chunk), clean_name(info.filename))
                if _bomb(len(buf), info.compress_size, limits):
                    raise BatchRefused(_ratio(info.filename, limits))
    except BatchRefused:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as e:
        raise BatchRefused(_damaged(info.filename, str(e) or type(e).__name__)) from None
    return bytes(buf), len(buf) >= cap


def _bomb(expanded: int, compressed: int, limits: BatchLimits) -> bool:
    return expanded > limits.ratio_floor and expanded > limits.max_ratio * max(compressed, 1)


def _check_name(name: str, info: zipfile.ZipInfo) -> None:
    """A path that stays inside the archive's folder, names a plain file, and can be shown."""
    parts = name.split("/")
    is_link = stat.S_ISLNK(info.external_attr >> 16)
    unsafe = (
        is_link
        or name.startswith("/")
        or "\\" in name
        or ".." in parts
        or (len(name) > 1 and name[1] == ":")  # a Windows drive: C:...
        or any(unicodedata.category(c)[0] == "C" for c in name)
        or len(name) > MAX_NAME * 4
    )
    if unsafe:
        shown = clean_name(name)
        raise BatchRefused(
            refusal(
                "archive_unsafe_name",
                {"member": shown},
                f"an entry with an unsafe name: {shown}",
                f"名稱不安全的項目：{shown}",
            )
        )


def _ratio(name: str, limits: BatchLimits) -> Verification:
    shown = clean_name(name)
    return refusal(
        "archive_ratio",
        {"member": shown, "ratio": limits.max_ratio},
        f"{shown} expands more than {limits.max_ratio}:1",
        f"{shown} 解壓縮後膨脹超過 {limits.max_ratio} 倍",
        413,
    )


def _damaged(name: str, detail: str) -> Verification:
    detail = clean_name(detail)[:160]
    return refusal(
        "archive_damaged",
        {"detail": detail, "detail_zh": detail},
        f"{clean_name(name)} cannot be read: {detail}",
        f"無法讀取 {clean_name(name)}：{detail}",
    )


class Verifies(Protocol):
    """What a batch needs of the verifier: one call per file (``verifier.engine.Verifier``)."""

    def verify(self, data: bytes, now: dt.datetime) -> Verification: ...


def run(
    verifier: Verifies,
    uploads: Sequence[Upload],
    now: dt.datetime,
    limits: BatchLimits,
    max_file_bytes: int,
) -> BatchResult:
    """Verify every file of a batch with the engine, one call per file, in order."""
    try:
        files = expand(uploads, limits, max_file_bytes)
    except BatchRefused as e:
        return BatchResult((), e.answer)
    items = []
    for f in files:
        v = verifier.verify(f.data, now)
        items.append(BatchItem(f.name, len(f.data), v, _sha256(f, v)))
    return BatchResult(tuple(items))


def item(name: str | None, data: bytes, v: Verification) -> BatchItem:
    """A single upload's answer in a batch's terms (for its receipt)."""
    u = Upload.of(name, data)
    return BatchItem(u.name, len(data), v, _sha256(u, v))


def _sha256(f: Upload, v: Verification) -> str | None:
    if f.truncated:
        return None
    if v.document is not None:
        return v.document.sha256
    return hashlib.sha256(f.data).hexdigest()
