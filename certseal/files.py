"""Writing published and recorded files: durably, atomically, and never rewriting history.

The authority, the federation operator and the evaluators' snapshot all publish folders a static
host serves while they are being updated; one set of rules here keeps readers from ever seeing a
half-written file or a published file that changed.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from certseal.errors import CertsealError, ConfigurationError


def write_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write durably and atomically: readers see the old file or the new one, never a part.

    ``durable=False``: atomically, without waiting for the disk; for the many files of a
    published copy, flushed together before the pointer that makes them count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_once(path: Path, data: bytes) -> None:
    """Write a file that, once there, never changes: the same bytes again are a no-op."""
    if path.exists():
        if path.read_bytes() != data:
            raise ConfigurationError(
                f"{path} already exists with other content: published history is never rewritten",
                f"{path} 已存在且內容不同：已公布的紀錄不可改寫",
            )
        return
    write_file(path, data)


def publish_tree(source: Path, target: Path, mutable: Sequence[str]) -> int:
    """Copy ``source`` into ``target``: the files it lacks first, then the ``mutable`` ones in
    the order given (the one that points at the others last), so a reader following the newest
    pointer always finds what it names. Returns how many files were written.

    The source may be published into meanwhile (a school publishing while the national site
    mirrors its folder): the pointers are read first, so every file they name was written
    before them and is among the files copied after. Each file is written whole under its
    name (a copy killed halfway leaves no part of a file that a later copy would then take
    as present)."""
    pointers = [(rel, (source / rel).read_bytes()) for rel in mutable if (source / rel).exists()]
    written = 0
    for folder, _dirs, names in os.walk(source):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), source)
            if rel in mutable or name.startswith(".") or (target / rel).exists():
                continue  # a dot file: a write in progress (its temporary file), not published
            write_file(target / rel, (source / rel).read_bytes(), durable=False)
            written += 1
    if written:
        os.sync()  # every file on disk before a pointer names it: one flush, not one per file
    for rel, data in pointers:
        write_file(target / rel, data)
        written += 1
    return written


def set_aside(root: Path, rels: Sequence[str], into: Path) -> Path | None:
    """Move the files ``rels`` of ``root`` into a new folder ``into``-<n> (their paths kept):
    what an interrupted command left is kept for a person to look at, never deleted, and out
    of the way of the run that starts again. Returns the folder, or None when nothing moved."""
    present = [rel for rel in rels if (root / rel).exists() or (root / rel).is_symlink()]
    if not present:
        return None
    n = 1
    while into.with_name(f"{into.name}-{n}").exists():
        n += 1
    folder = into.with_name(f"{into.name}-{n}")
    for rel in present:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / rel, folder / rel)
    return folder


def take_lock(path: Path, busy: CertsealError) -> IO[bytes]:
    """Hold the lock of ``path`` (one command at a time in a home) until the returned file is
    closed, or raise ``busy`` at once: a second command says plainly that another one runs,
    rather than waiting unseen or working alongside it."""
    lock = open(path, "ab")  # noqa: SIM115 - held open for as long as the command runs
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise busy from None
    return lock
