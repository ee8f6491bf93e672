"""The authority's transparency log (authority/transparency.py): incremental tiles equal to a
from-scratch build, checkpoints signed once per growth, nothing published ever rewritten."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authority.transparency import TransparencyLog, log_origin
from certseal import tlog
from certseal.errors import ConfigurationError, InputError
from certseal.eventlog import (
    LogEvent,
    PublishedLog,
    consistency_path,
    parse_listing,
    tile_path,
)
from certseal.fetch import published_fetcher
from tests.audit import rfc9162

KEY = ec.generate_private_key(ec.SECP256R1())
ORIGIN = "verify.example.edu.tw/log"
T0 = dt.datetime(2026, 6, 22, 2, 0, tzinfo=dt.UTC)


def _events(start: int, n: int) -> list[LogEvent]:
    def sha(i: int) -> str:
        return hashlib.sha256(str(i).encode()).hexdigest()

    return [
        LogEvent(i, "issued", sha(i), "diploma_zh", "2026-06-22T01:00:00Z")
        for i in range(start, start + n)
    ]


def _append(log: TransparencyLog, n: int, hours: int) -> None:
    state = log.state()
    size = state.size if state else 0
    log.append(
        _events(size, n),
        through_seq=size + n,
        origin=ORIGIN,
        now=T0 + dt.timedelta(hours=hours),
        key=KEY,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_origin_is_the_site_without_scheme() -> None:
    assert log_origin("https://verify.example.edu.tw/") == "verify.example.edu.tw/log"
    assert log_origin("http://127.0.0.1:8080/certs/") == "127.0.0.1:8080/certs/log"
    with pytest.raises(ConfigurationError):
        log_origin("not a url")


def test_incremental_appends_publish_what_a_single_build_would(tmp_path: Path) -> None:
    batches = [1, 254, 1, 300, 0, 70, 256]
    log = TransparencyLog(tmp_path / "a")
    for hour, n in enumerate(batches):
        _append(log, n, hour)
    once = TransparencyLog(tmp_path / "b")
    _append(once, sum(batches), 0)
    a, b = _files(log.public / "tile"), _files(once.public / "tile")
    total = sum(batches)
    # The full tiles and bundles, and those of the final size, are the same bytes.
    final = {k: v for k, v in a.items() if ".p/" not in k or k in b}
    assert final == b
    assert total == 882 and "0/003.p/114" in b and "1/000.p/3" in b
    leaves = [ev.to_bytes() for ev in _events(0, total)]
    ref = rfc9162.Reference(leaves)
    for level, index, width in [(0, 0, 256), (0, 3, 114), (1, 0, 3)]:
        assert b[tile_path(level, index, width).removeprefix("tile/")] == ref.tile(
            level, index, width
        )
    state = log.state()
    assert state is not None and state.root == ref.mth(0, total)


def test_every_growth_signs_one_checkpoint_with_a_consistency_proof(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path)
    _append(log, 3, 0)
    _append(log, 0, 1)  # nothing new: no new checkpoint
    _append(log, 300, 2)
    pub = PublishedLog(published_fetcher(str(tmp_path), "public"))
    assert pub.sizes() == [3, 303]
    latest = pub.open(ORIGIN, [KEY.public_key()])
    assert latest.size == 303 and latest.extensions == ("time 2026-06-22T04:00:00Z",)
    first = pub.open(ORIGIN, [KEY.public_key()], 3)
    proof = pub.consistency(3, 303)
    tlog.verify_consistency(proof, first.root_hash, latest.root_hash)
    ref = rfc9162.Reference([ev.to_bytes() for ev in _events(0, 303)])
    assert rfc9162.verify_consistency(3, 303, proof.hashes, ref.mth(0, 3), ref.mth(0, 303))
    assert json.loads((log.public / consistency_path(3, 303)).read_bytes())["old_size"] == 3


def test_the_first_publish_signs_even_an_empty_log(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path)
    ref = log.append([], through_seq=0, origin=ORIGIN, now=T0, key=KEY)
    assert (ref.size, ref.root) == (0, tlog.EMPTY_ROOT)
    assert parse_listing((log.public / "checkpoints.json").read_bytes()) == [0]
    assert log.append([], through_seq=0, origin=ORIGIN, now=T0, key=KEY) == ref


def test_events_must_be_numbered_from_the_current_size(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path)
    _append(log, 2, 0)
    with pytest.raises(ValueError, match="numbered 0, not 2"):
        log.append(_events(0, 1), through_seq=3, origin=ORIGIN, now=T0, key=KEY)


def test_a_checkpoint_is_never_dated_before_the_last(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path)
    _append(log, 2, 5)
    with pytest.raises(InputError, match="before the last one"):
        _append(log, 1, 4)


def test_published_files_are_never_rewritten(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path)
    _append(log, 300, 0)
    level1 = log.public / tile_path(1, 0, 1)
    good = level1.read_bytes()
    level1.write_bytes(b"\x00" * 32)
    with pytest.raises(ConfigurationError, match="no longer match"):
        _append(log, 1, 1)
    level1.write_bytes(good)
    (log.public / tile_path(0, 1, 45)).write_bytes(b"x")  # where the next append writes
    with pytest.raises(ConfigurationError, match="never rewritten"):
        _append(log, 1, 1)


def test_an_interrupted_publish_is_finished_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = TransparencyLog(tmp_path)
    _append(log, 5, 0)
    real_replace = os.replace

    def crash(src: str, dst: str) -> None:
        if str(dst).endswith("state.json"):
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        _append(log, 3, 1)
    monkeypatch.setattr(os, "replace", real_replace)
    state = log.state()
    assert state is not None and state.size == 5  # the commit point did not move
    _append(log, 3, 2)  # the same events, signed at another time: replaces the orphan
    pub = PublishedLog(published_fetcher(str(tmp_path), "public"))
    assert pub.open(ORIGIN, [KEY.public_key()], 8).extensions == ("time 2026-06-22T04:00:00Z",)
    assert pub.sizes() == [5, 8]


def test_publish_copies_what_the_site_lacks_and_the_checkpoint_last(tmp_path: Path) -> None:
    log = TransparencyLog(tmp_path / "home")
    _append(log, 10, 0)
    site = tmp_path / "site"
    first = log.publish(site)
    assert _files(site / "log") == _files(log.public)
    _append(log, 1, 1)
    # Immutable files already out are not copied again; the two mutable ones always are.
    assert first == 5 and log.publish(site) == 6  # a consistency proof more
    fresh = tmp_path / "other-site"
    log.publish(fresh)
    assert _files(fresh / "log") == _files(log.public)


def test_a_damaged_state_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{")
    with pytest.raises(ConfigurationError, match="damaged"):
        TransparencyLog(tmp_path).state()
