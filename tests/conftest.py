"""Shared fixtures: a real authority (real keys, real signed PDFs) built once per session.

Time is passed in everywhere: NOW is read once per session and every time in the tests is an
offset from it, so the suite means the same thing on any day (pyhanko stamps its signing time
from the clock, and the verifier's HTTP layer reads the clock, so NOW must be today).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from authority.config import DEMO_SCHOOL
from authority.production import Producer
from authority.service import Authority, IssueRequest, init_authority
from certseal.timeutil import utcnow

NOW = utcnow()
COLLECTED = NOW.date() - dt.timedelta(days=2)
PASSPHRASE = "test-passphrase-not-secret"
ACTOR = "test-registrar"


def sample_bytes(name: str) -> bytes:
    return resources.files("authority").joinpath("sample_data", name).read_bytes()


@dataclass
class Issued:
    """The session's authority and what it issued, by role in the tests."""

    home: Path
    published: Path
    diploma: dict[str, str]  # role -> doc_id
    paths: dict[str, Path]  # role -> file

    def pdf(self, role: str) -> bytes:
        return self.paths[role].read_bytes()


def make_authority(home: Path) -> None:
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30))
    with Authority(home) as auth:
        for kind, name in (
            ("graduates", "graduates.csv"),
            ("courses", "courses.csv"),
            ("ranks", "ranks.csv"),
        ):
            report, _ = auth.import_records(
                kind, sample_bytes(name), now=NOW, actor=ACTOR, source=name
            )
            assert not report.rejected, report.rejected


@pytest.fixture(scope="session")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    base = tmp_path_factory.mktemp("authority")
    home = base / "home"
    make_authority(home)
    with Authority(home) as auth:
        students = auth.registry.student_ids()[:4]
        for sid in students:
            auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        produce = Producer(auth.keys_dir, PASSPHRASE)
        report = auth.issue(
            [IssueRequest("diploma_zh", s) for s in students],
            now=NOW,
            actor=ACTOR,
            produce=produce,
        )
        assert not report.failed, report.failed
        docs = [d.doc_id for d in report.issued]
        courses_student = auth.registry.student_ids("courses")[0]
        tr = auth.issue(
            [IssueRequest("transcript", courses_student, "ORDER-1")],
            now=NOW,
            actor=ACTOR,
            produce=produce,
        )
        assert not tr.failed, tr.failed
        new = auth.reissue(docs[1], now=NOW + dt.timedelta(hours=1), actor=ACTOR, produce=produce)
        auth.revoke(docs[2], "degree_revoked", "test", now=NOW + dt.timedelta(hours=2), actor=ACTOR)
        published = base / "site"
        auth.publish(published, PASSPHRASE, now=NOW + dt.timedelta(hours=3), actor=ACTOR)
        roles = {
            "genuine": docs[0],
            "superseded": docs[1],
            "successor": new.doc_id,
            "revoked": docs[2],
            "transcript": tr.issued[0].doc_id,
        }
        paths = {r: home / auth.registry.document(d).path for r, d in roles.items()}
    return Issued(home, published, roles, paths)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh, initialised authority with the sample records imported."""
    h = tmp_path / "home"
    make_authority(h)
    yield h


def nss_db(tmp: Path, root_pem: Path) -> Path:
    """An NSS database trusting ``root_pem``, for poppler's pdfsig."""
    db = tmp / "nss"
    if db.exists():
        shutil.rmtree(db)
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C", "-i", str(root_pem)],
        check=True,
    )
    return db
