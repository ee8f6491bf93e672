"""An answer's read of the shared SQLite store is kept while the store's change mark holds:
whatever another store, process or hand changes is still what the next answer reads."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from verifier.store import SqliteStore

SHA = "ab" * 32
T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def reads_of(store: SqliteStore, issuers: list[str]) -> tuple[int, int, list[str]]:
    """(version of the first issuer, count, the SELECTs this thread's connection ran)."""
    statements: list[str] = []
    store._conn().set_trace_callback(statements.append)
    try:
        seen, used = store.answer_read(issuers, SHA)
    finally:
        store._conn().set_trace_callback(None)
    return seen[issuers[0]].version, used, [s for s in statements if s.startswith("SELECT")]


def until(check: object, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_read_held_is_answered_without_a_statement(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "counts.sqlite")
    store.record_seen("demo", 2, T0)
    assert reads_of(store, ["demo"])[:2] == (2, 0)
    version, used, selects = reads_of(store, ["demo"])
    assert (version, used, selects) == (2, 0, [])
    # A document not read before is read.
    other = store.answer_read(["demo"], "cd" * 32)
    assert other[0]["demo"].version == 2


def test_another_store_s_changes_are_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite"
    ours, theirs = SqliteStore(path), SqliteStore(path)
    ours.record_seen("demo", 1, T0)
    assert reads_of(ours, ["demo"])[:2] == (1, 0)
    theirs.record_seen("demo", 3, T0)
    assert reads_of(ours, ["demo"])[:2] == (3, 0)
    assert theirs.try_use(SHA, 3) == (True, 1)
    assert reads_of(ours, ["demo"])[:2] == (3, 1)
    # A write that changes nothing (an older version) leaves what is held valid.
    theirs.record_seen("demo", 2, T0)
    assert reads_of(ours, ["demo"]) == (3, 1, [])


CHANGE = """
import datetime as dt, sys
from pathlib import Path
from verifier.store import SqliteStore
SqliteStore(Path(sys.argv[1])).record_seen("demo", 7, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
"""


def test_another_process_s_new_version_is_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite"
    ours = SqliteStore(path, read_max_age=3600)
    ours.record_seen("demo", 1, T0)
    assert reads_of(ours, ["demo"])[:2] == (1, 0)
    assert reads_of(ours, ["demo"])[2] == []
    subprocess.run([sys.executable, "-c", CHANGE, str(path)], check=True, timeout=60)
    assert reads_of(ours, ["demo"])[:2] == (7, 0)


def test_a_change_behind_the_store_s_back_is_read_within_its_age(tmp_path: Path) -> None:
    """An older verifier, or a hand, writes without replacing the mark."""
    path = tmp_path / "counts.sqlite"
    ours = SqliteStore(path, read_max_age=0.2)
    ours.record_seen("demo", 1, T0)
    assert reads_of(ours, ["demo"])[:2] == (1, 0)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE seen_versions SET version = 4 WHERE issuer = 'demo'")
    assert until(lambda: reads_of(ours, ["demo"])[0] == 4)


def test_a_removed_mark_is_made_again_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite"
    ours = SqliteStore(path, read_max_age=0.2)
    ours.record_seen("demo", 1, T0)
    assert reads_of(ours, ["demo"])[:2] == (1, 0)
    (tmp_path / "counts.sqlite-changes").unlink()
    later = SqliteStore(path)  # maps the file made again
    later.record_seen("demo", 5, T0)
    assert until(lambda: reads_of(ours, ["demo"])[0] == 5)
    # From then on both share the new file: a change is read at once again.
    later.record_seen("demo", 6, T0)
    assert reads_of(ours, ["demo"])[0] == 6


def test_what_a_caller_does_to_an_answer_does_not_change_the_next(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "counts.sqlite")
    store.record_seen("demo", 2, T0)
    seen, _ = store.answer_read(["demo"], SHA)
    seen.clear()
    again, _ = store.answer_read(["demo"], SHA)
    assert again["demo"].version == 2
