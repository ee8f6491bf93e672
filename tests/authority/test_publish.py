"""Publishing: the incremental path writes exactly what a full rebuild writes, and the site
comes with it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE


def _snapshot(out: Path, version: int) -> dict[str, object]:
    signed: dict[str, object] = json.loads(
        (out / "status" / "snapshot" / f"{version}.json").read_bytes()
    )["signed"]
    return signed


def test_incremental_publish_equals_full_rebuild(home: Path, tmp_path: Path) -> None:
    with Authority(home) as auth:
        produce = Producer(auth.keys_dir, PASSPHRASE)
        students = auth.registry.student_ids()[:6]
        for sid in students:
            auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        rep = auth.issue(
            [IssueRequest("diploma_zh", s) for s in students[:4]],
            now=NOW,
            actor=ACTOR,
            produce=produce,
        )
        same = tmp_path / "same"
        auth.publish(same, PASSPHRASE, now=NOW, actor=ACTOR)
        later = NOW + dt.timedelta(hours=1)
        auth.revoke(rep.issued[0].doc_id, "issued_in_error", "test", now=later, actor=ACTOR)
        auth.reissue(rep.issued[1].doc_id, now=later, actor=ACTOR, produce=produce)
        auth.issue(
            [IssueRequest("diploma_zh", s) for s in students[4:]],
            now=later,
            actor=ACTOR,
            produce=produce,
        )
        auth.publish(same, PASSPHRASE, now=later, actor=ACTOR)  # incremental: v1 is there
        fresh = tmp_path / "fresh"
        auth.publish(fresh, PASSPHRASE, now=later, actor=ACTOR)  # full: nothing to build on
    inc, full = _snapshot(same, 2), _snapshot(fresh, 3)
    assert inc["buckets"] == full["buckets"]
    assert inc["counts"] == full["counts"] == {"active": 5, "superseded": 1, "revoked": 1}
    assert (same / "index.html").is_file() and (same / "en" / "index.html").is_file()
