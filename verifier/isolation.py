"""The full parse of an unlisted file, away from the request workers, at a bounded cost.

A listed file needs a hash and a lookup; only the others are parsed, and a hostile one is built
to make that parse spin. So every parse here:

- first passes the byte scan of :func:`verifier.pdfcheck.structure_problem`, in the request's
  own process (milliseconds);
- then takes one of the service's *parse slots*: lock files shared by every process of one
  gunicorn (one process group), so the whole service runs at most ``slots`` parses at once. A
  file that finds none free within ``slot_wait`` is answered ``busy`` (HTTP 503): hostile files
  wait among themselves, briefly, and never in front of a listed document, which takes no slot;
- runs in a child process (``python -m verifier.isolation``) at a lower CPU priority, with its
  memory capped and its CPU time bounded twice: a SIGPROF timer in the child's main thread (a
  clean ``malformed_pdf`` answer) and RLIMIT_CPU a second later (the kernel ends the child). The
  parent also kills it past a wall-clock limit. A child that ends or is killed is replaced.

Nothing here depends on how the web server runs requests: a sync worker or a thread waits on its
own child, never on a signal of its own process. Jobs and answers cross the pipe as
length-prefixed frames: JSON, and the file's bytes as they are; nothing is unpickled.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import fcntl
import json
import logging
import math
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from asn1crypto import x509 as asn1_x509

from verifier.ltv import ExtendedCopy
from verifier.pdfcheck import (
    SIGNATURE_CHECKS,
    SignatureFacts,
    StructureLimits,
    out_of_time,
    read_and_validate,
    structure_problem,
    unreadable,
)
from verifier.resaved import ResavedCopy
from verifier.result import Check, Reason

log = logging.getLogger("certseal.verifier")

_FRAME = 4  # bytes of a frame's length, big-endian
_MAX_ANSWER = 1024 * 1024  # an answer is a few KB; anything longer is not one
_START_SECONDS = 30.0  # a new child imports pyhanko before it is ready


@dataclass(frozen=True)
class Isolation:
    """How unlisted files are parsed: at most ``slots`` at once in the whole service, each in a
    child process limited to ``cpu_seconds`` of CPU and ``wall_seconds`` of time."""

    cpu_seconds: float = 1.0
    wall_seconds: float = 10.0
    slots: int = 0  # 0: one per two cores, at least one
    slot_wait: float = 0.5
    memory_bytes: int = 1024 * 1024 * 1024
    slots_dir: Path | None = None  # None: one folder per process group, under the temp folder

    def __post_init__(self) -> None:
        if self.cpu_seconds <= 0 or self.wall_seconds <= 0 or self.slot_wait < 0:
            raise ValueError("isolation limits must be positive")
        if self.slots < 0:
            raise ValueError("slots must be 0 (automatic) or more")

    @property
    def slot_count(self) -> int:
        return self.slots or max(1, (os.cpu_count() or 2) // 2)


def busy() -> SignatureFacts:
    """Not read: every parse slot stayed taken. Try again; nothing is wrong with the file."""
    return SignatureFacts(
        (
            Check("pdf_structure", "skipped", "parse_busy"),
            *(Check(n, "skipped", "skipped_earlier") for n in SIGNATURE_CHECKS),
        ),
        (Reason("busy"),),
        http_status=503,
    )


class ParseSlots:
    """Parses at once across the processes of one service: ``count`` lock files (flock), each
    held by one parse. The kernel releases a lock when its holder closes it or dies.

    Every process that uses the folder holds it (a shared lock on its ``.in-use`` file) for
    as long as it lives. ``remove_at_exit`` (the default folder, one per process group under
    the temp folder): the last of them to exit removes it, or, after a crash, the next service
    to start (:func:`sweep_stale`). A folder the operator chose is left in place."""

    def __init__(self, folder: Path, count: int, *, remove_at_exit: bool = False) -> None:
        self.folder, held = _held_folder(folder)
        if held is None:  # not ours: a private one, removed at exit
            self.folder, held = _held_folder(Path(tempfile.mkdtemp(prefix=_PREFIX)))
            remove_at_exit = True
        if held is None:
            raise OSError(f"parse slots: cannot use {self.folder}")
        if remove_at_exit:
            _REMOVE_AT_EXIT.add(self.folder)
        self.count = count

    @contextlib.contextmanager
    def hold(self, wait: float) -> Iterator[bool]:
        """Yields True with a slot held, or False when none came free within ``wait`` s."""
        give_up = time.monotonic() + wait
        while True:
            for i in range(self.count):
                fd = os.open(
                    self.folder / f"slot-{i}",
                    os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                    0o600,
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield True
                finally:
                    os.close(fd)
                return
            if time.monotonic() >= give_up:
                yield False
                return
            time.sleep(0.01)


_PREFIX = "certseal-verifier-"
_IN_USE = ".in-use"  # shared-locked by every process using the folder
# This process's holds: folder -> the open .in-use file (kept open: the hold is its lock).
_HELD: dict[Path, int] = {}
_HELD_LOCK = threading.Lock()
_REMOVE_AT_EXIT: set[Path] = set()


def default_slots_dir() -> Path:
    """One folder per user and process group: gunicorn's workers share their master's group."""
    return Path(tempfile.gettempdir()) / f"{_PREFIX}{os.getuid()}-{os.getpgrp()}"


def _held_folder(folder: Path) -> tuple[Path, int | None]:
    """The folder, made if missing and held by this process until it exits; None for a folder
    that is not ours (another user's, or a link), which is not used."""
    with _HELD_LOCK:
        if folder in _HELD:
            return folder, _HELD[folder]
        for _ in range(100):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                log.warning("parse slots: %s is not a folder of ours; using a private one", folder)
                return folder, None
            fd = _open_in_use(folder)
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a sweep removes the folder
            if _still_there(fd, folder):
                _HELD[folder] = fd
                return folder, fd
            os.close(fd)  # removed by a sweep while we waited: made again
        return folder, None


def _open_in_use(folder: Path) -> int:
    return os.open(folder / _IN_USE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)


def _still_there(fd: int, folder: Path) -> bool:
    """Whether ``fd`` is still the folder's .in-use file (not one a sweep has unlinked)."""
    try:
        st = os.stat(folder / _IN_USE, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def remove_if_unused(folder: Path, *, group: int | None = None) -> bool:
    """Remove a slots folder that no process holds: never one in use.

    ``group``: the process group the folder was made for; while it still runs, the folder is
    left (a verifier from before the holds takes none). Only the slot files and the hold file
    are removed; a folder holding anything else stays. Returns whether it was removed."""
    try:
        fd = _open_in_use(folder)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a process holds it
        if not _still_there(fd, folder) or (group is not None and _group_runs(group)):
            return False
        names = os.listdir(folder)
        if any(n != _IN_USE and not n.startswith("slot-") for n in names):
            return False  # not only ours: left as it is
        for name in names:
            if name != _IN_USE:
                os.unlink(folder / name)
        os.unlink(folder / _IN_USE)  # the last: a process waiting to hold it starts again
        folder.rmdir()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _group_runs(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it runs, as another user
    return True


def sweep_stale(base: Path | None = None) -> list[Path]:
    """Remove this user's default slot folders whose service is gone (a crash, a SIGKILL):
    none is held and its process group no longer runs. Returns the folders removed."""
    base = base or Path(tempfile.gettempdir())
    prefix = f"{_PREFIX}{os.getuid()}-"
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return []
    for entry in entries:
        group = entry.name[len(prefix) :]
        if not entry.name.startswith(prefix) or not group.isdigit():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        if remove_if_unused(Path(entry.path), group=int(group)):
            removed.append(Path(entry.path))
    return removed


@atexit.register
def _release_folders() -> None:
    """Let go of this process's holds; the last process out removes its default folder."""
    with _HELD_LOCK:
        held, remove = dict(_HELD), set(_REMOVE_AT_EXIT)
        _HELD.clear()
    for folder, fd in held.items():
        os.close(fd)
        if folder in remove:
            remove_if_unused(folder)


_SWEPT: set[int] = set()  # the processes that have swept (a forked worker sweeps again)


def _sweep_once() -> None:
    with _HELD_LOCK:
        if os.getpid() in _SWEPT:
            return
        _SWEPT.add(os.getpid())
    for folder in sweep_stale():
        log.info("parse slots: removed %s, left by a service that is gone", folder.name)


class IsolatedParser:
    """Scan here, then parse and validate in a child process, within the service's slots."""

    def __init__(self, settings: Isolation, limits: StructureLimits) -> None:
        self.settings = settings
        self.limits = limits
        if settings.slots_dir is None:
            _sweep_once()
            self.slots = ParseSlots(default_slots_dir(), settings.slot_count, remove_at_exit=True)
        else:
            self.slots = ParseSlots(settings.slots_dir, settings.slot_count)

    def warm(self) -> None:
        """Start a child now, so that the first unlisted file does not wait for its imports."""
        shared_pool(self.settings.memory_bytes).warm()

    def check(
        self, data: bytes, roots: list[asn1_x509.Certificate], now: dt.datetime
    ) -> SignatureFacts:
        problem = structure_problem(data, self.limits)
        if problem is not None:
            return unreadable(*problem)
        job = {
            "now": now.isoformat(),
            "cpu": self.settings.cpu_seconds,
            "roots": [base64.b64encode(r.dump()).decode() for r in roots],
            "limits": asdict(self.limits),
        }
        with self.slots.hold(self.settings.slot_wait) as held:
            if not held:
                return busy()
            pool = shared_pool(self.settings.memory_bytes)
            outcome = pool.run(json.dumps(job).encode(), data, self.settings.wall_seconds)
        if isinstance(outcome, dict):
            try:
                return facts_from_wire(outcome)
            except (KeyError, TypeError, ValueError):
                return unreadable("the reader gave no usable answer", "讀取程式未給出可用的結果")
        if outcome == _NOT_STARTED:
            return busy()  # nothing known of the file: the service could not read it now
        if outcome == -signal.SIGXCPU:
            return out_of_time(self.settings.cpu_seconds)
        if outcome == _TIMED_OUT:
            wall = self.settings.wall_seconds
            return unreadable(f"reading it took longer than {wall:g} s", f"讀取超過 {wall:g} 秒")
        return unreadable("the reader stopped on this file", "讀取程式因此檔案而中止")


# -- the wire: SignatureFacts as JSON ----------------------------------------------------------


def facts_to_wire(facts: SignatureFacts) -> dict[str, Any]:
    return {
        "checks": [[c.name, c.status, c.detail, c.params] for c in facts.checks],
        "reasons": [[r.code, r.params] for r in facts.reasons],
        "anchor": None
        if facts.trust_anchor is None
        else base64.b64encode(facts.trust_anchor.dump()).decode(),
        "signer": facts.signer,
        "extended": None if "extended" not in facts.extra else facts.extra["extended"].to_dict(),
        "resaved": None if "resaved" not in facts.extra else facts.extra["resaved"].to_dict(),
    }


def facts_from_wire(d: dict[str, Any]) -> SignatureFacts:
    """Rebuild the child's answer, checking every field: a child that went wrong must not be
    able to say more than a well-formed answer can."""
    checks = []
    for name, status, detail, params in d["checks"]:
        if status not in ("passed", "failed", "skipped"):
            raise ValueError(f"bad check status {status!r}")
        checks.append(Check(str(name), status, str(detail), _params(params)))
    reasons = tuple(Reason(str(code), _params(params)) for code, params in d["reasons"])
    anchor = None
    if d["anchor"] is not None:
        anchor = asn1_x509.Certificate.load(base64.b64decode(d["anchor"], validate=True))
    signer = d["signer"]
    if signer is not None and not isinstance(signer, str):
        raise TypeError("signer")
    extra: dict[str, Any] = {}
    if d.get("extended") is not None:  # an issued file plus long-term validation data
        extra["extended"] = ExtendedCopy.from_dict(d["extended"])
    if d.get("resaved") is not None:  # a re-saved copy: what names its issued document
        extra["resaved"] = ResavedCopy.from_dict(d["resaved"])
    return SignatureFacts(tuple(checks), reasons, trust_anchor=anchor, signer=signer, extra=extra)


def _params(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in params.items()
    ):
        raise TypeError("params")
    return dict(params)


# -- the parent's side: children, one job at a time each --------------------------------------

_TIMED_OUT = "timed out"
_NOT_STARTED = "not started"


class _Child:
    """One parse process, spoken to over its stdin and stdout."""

    def __init__(self, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "verifier.isolation", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.ready = False

    def ask(self, header: bytes, data: bytes, wall_seconds: float) -> dict[str, Any] | int | str:
        """The child's answer; else its exit status, or ``_TIMED_OUT``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        out = self.proc.stdout.fileno()
        if not self.ready:
            if _read_frame(out, time.monotonic() + _START_SECONDS) is None:
                self.close(kill=True)
                return _NOT_STARTED
            self.ready = True
        give_up = time.monotonic() + wall_seconds
        job = b"".join(len(part).to_bytes(_FRAME, "big") + part for part in (header, data))
        if not _write_all(self.proc.stdin.fileno(), job, give_up):
            return self._end()
        answer = _read_frame(out, give_up)
        if answer is None:
            return self._end()
        try:
            decoded = json.loads(answer)
        except ValueError:
            return self._end()
        return decoded if isinstance(decoded, dict) else self._end()

    def _end(self) -> int | str:
        """Stop the child (if it still runs): its exit status, or ``_TIMED_OUT`` if we killed it."""
        timed_out = self.proc.poll() is None
        self.close(kill=True)
        return _TIMED_OUT if timed_out else int(self.proc.returncode)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, kill: bool = False) -> None:
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _read_frame(fd: int, give_up: float) -> bytes | None:
    """One frame from ``fd``, or None at end of file, on a bad length or past ``give_up``."""
    head = _read_exact(fd, _FRAME, give_up)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > _MAX_ANSWER:
        return None
    return _read_exact(fd, size, give_up)


def _write_all(fd: int, data: bytes, give_up: float) -> bool:
    """Write everything before ``give_up``: a child that stops reading cannot hold us."""
    view = memoryview(data)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    os.set_blocking(fd, False)
    while view:
        left = give_up - time.monotonic()
        if left <= 0 or not poller.poll(max(1, math.ceil(left * 1000))):
            return False
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
        except OSError:  # the child is gone
            return False
    return True


def _read_exact(fd: int, n: int, give_up: float) -> bytes | None:
    buf = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(buf) < n:
        left = give_up - time.monotonic()
        if left <= 0 or not poller.poll(max(1, math.ceil(left * 1000))):
            return None
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class ParsePool:
    """This process's idle children. A child serves one job at a time; the slots bound how many
    are busy, so the pool only ever grows to the number of slots this process holds at once."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self.pid = os.getpid()
        self._idle: list[_Child] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            if not self._idle:
                self._idle.append(_Child(self.memory_bytes))

    def run(self, header: bytes, data: bytes, wall_seconds: float) -> dict[str, Any] | int | str:
        with self._lock:
            child = self._idle.pop() if self._idle else None
        if child is None or not child.alive:
            if child is not None:
                child.close(kill=True)
            child = _Child(self.memory_bytes)
        outcome = child.ask(header, data, wall_seconds)
        if not isinstance(outcome, dict):
            child = _Child(self.memory_bytes)  # the replacement imports while it waits
        with self._lock:
            self._idle.append(child)
        return outcome

    def close(self) -> None:
        with self._lock:
            children, self._idle = self._idle, []
        for child in children:
            child.close()  # end of its input: it exits


_POOLS: dict[int, ParsePool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(memory_bytes: int) -> ParsePool:
    """One pool per process (and per memory cap), made after any fork: a forked copy of another
    process's pool is not used (its children answer the other process)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(memory_bytes)
        if pool is None or pool.pid != os.getpid():
            pool = _POOLS[memory_bytes] = ParsePool(memory_bytes)
        return pool


@atexit.register
def _close_pools() -> None:
    with _POOLS_LOCK:
        pools = [p for p in _POOLS.values() if p.pid == os.getpid()]
        _POOLS.clear()
    for pool in pools:
        pool.close()


# -- the child's side ---------------------------------------------------------------------------


def _serve(memory_bytes: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer jobs until the parent closes our input."""
    with contextlib.suppress(OSError):
        os.nice(10)  # a genuine request's work comes first
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump core
    logging.disable(logging.CRITICAL)  # answers say what went wrong; logs would carry upload text
    roots: dict[str, asn1_x509.Certificate] = {}
    _write_frame(stdout, b'{"ready": true}')
    while True:
        header = _read_blocking(stdin)
        data = _read_blocking(stdin) if header is not None else None
        if header is None or data is None:
            return
        job = json.loads(header)
        now = dt.datetime.fromisoformat(job["now"])
        cpu = float(job["cpu"])
        anchors = []
        for b64 in job["roots"]:
            if b64 not in roots:
                roots[b64] = asn1_x509.Certificate.load(base64.b64decode(b64))
            anchors.append(roots[b64])
        # The kernel's bound, a second past the timer's: ends the child if the timer cannot
        # interrupt (a long call into C).
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        facts = read_and_validate(data, anchors, now, cpu, StructureLimits(**job["limits"]))
        _write_frame(stdout, json.dumps(facts_to_wire(facts)).encode())


def _read_blocking(stream: IO[bytes]) -> bytes | None:
    """One frame from the parent, or None at the end of our input."""
    head = stream.read(_FRAME)
    if len(head) < _FRAME:
        return None
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _write_frame(out: IO[bytes], payload: bytes) -> None:
    out.write(len(payload).to_bytes(_FRAME, "big") + payload)
    out.flush()


if __name__ == "__main__":
    try:
        _serve(int(sys.argv[1]), sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        # The worker that started us is gone (stopped, or replaced) before we answered: there is
        # no one to answer, and nothing for the service's log. Python's own recipe: stdout to
        # /dev/null, so that the flush at exit does not report the broken pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
