"""A school that publishes several times, and the tools a dishonest one (or its host) would use.

The school is a copy of the session's authority (real keys, real registry); documents added
here are registered without rendering a PDF, since the log and the status list only ever see
hashes. Times are offsets from the session's NOW, after everything the session did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auditor import AuditorState, AuditReport, audit
from authority.keys import load_identity
from authority.registry import DocumentRow
from authority.service import Authority, _write_atomic, write_publication
from authority.transparency import TransparencyLog
from certseal import tlog
from certseal.eventlog import LOG_DIR, LogEvent, LogRef, PublishedLog, tile_width
from certseal.fetch import published_fetcher
from certseal.statuslist import Entry, Issuer, build_publication, build_shards
from certseal.timeutil import format_time
from tests.conftest import ACTOR, NOW, PASSPHRASE, Issued


def at(hours: float) -> dt.datetime:
    """A time after everything the session's authority did (it published at NOW + 3 h)."""
    return NOW + dt.timedelta(hours=4 + hours)


@dataclass
class School:
    home: Path
    site: Path
    state_file: Path
    _count: int = 0

    # -- an honest school ----------------------------------------------------------------
    def add(self, n: int, when: dt.datetime) -> list[DocumentRow]:
        """Register ``n`` new transcripts issued at ``when`` (no PDF: only hashes go out)."""
        with Authority(self.home) as auth:
            student = auth.registry.student_ids()[0]
            rows = [self._row(student, when) for _ in range(n)]
            auth.registry.register(rows)
        return rows

    def reissue(self, old: DocumentRow, when: dt.datetime) -> DocumentRow:
        with Authority(self.home) as auth:
            new = replace(self._row(old.student_id, when), version=old.version + 1)
            auth.registry.register([new], supersede={new.doc_id: old.doc_id})
        return new

    def revoke(self, doc: DocumentRow, when: dt.datetime) -> None:
        with Authority(self.home) as auth:
            auth.revoke(doc.doc_id, "issued_in_error", "test", now=when, actor=ACTOR)

    def publish(self, when: dt.datetime) -> None:
        with Authority(self.home) as auth:
            auth.publish(self.site, PASSPHRASE, now=when, actor=ACTOR)

    def audit(self, when: dt.datetime, *, remember: bool = True) -> AuditReport:
        """Audit the site as a monitor would: with its memory, saved after a clean run."""
        state = AuditorState.load(self.state_file) if remember else None
        report = audit(str(self.site), reference_time=when, state=state, workers=2)
        if remember and report.new_state is not None:
            report.new_state.save(self.state_file)
        return report

    def _row(self, student: str, when: dt.datetime) -> DocumentRow:
        self._count += 1
        n = self._count
        return DocumentRow(
            doc_id=f"TEST-{n:06d}",
            request_key=f"test:{n}",
            doc_type="transcript",
            student_id=student,
            version=1,
            replaces=None,
            record_id=1,
            order_ref=f"ORDER-{n}",
            sha256=hashlib.sha256(f"test document {n} {self.home}".encode()).hexdigest(),
            size=1,
            path="documents/none.pdf",
            issued_at=format_time(when),
            verification_limit=3,
            print_locked=False,
            actor=ACTOR,
        )

    # -- what a dishonest school (it holds the key) or its host can do -------------------
    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        key = load_identity(self.home / "keys", "statuslist", PASSPHRASE).key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    @property
    def log(self) -> PublishedLog:
        return PublishedLog(published_fetcher(str(self.site), LOG_DIR))

    def leaves(self) -> list[bytes]:
        """Every leaf of the published log, in order."""
        size = self.latest().size
        out: list[bytes] = []
        for index in range((size + 255) // 256):
            out += self.log.bundle(index, size)[: tile_width(0, index, size)]
        return out

    def latest(self) -> tlog.Checkpoint:
        note = self.log.note().decode()
        return tlog.Checkpoint.from_text(note[: note.rindex("\n\n") + 1])

    def entries(self) -> list[Entry]:
        with Authority(self.home) as auth:
            return list(auth.registry.status_entries(with_log=True))

    def forge_log(
        self,
        leaves: Sequence[bytes],
        sizes: Sequence[int],
        when: dt.datetime,
        *,
        wipe: bool,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> LogRef:
        """Publish another history: ``leaves`` under checkpoints of ``sizes``, signed with the
        school's key (or ``key``). ``wipe`` removes the old log first; otherwise files are
        overwritten."""
        forger = TransparencyLog(self.home.parent / f"forged-{len(leaves)}-{sizes[-1]}")
        start = 0
        for i, size in enumerate(sizes):
            ref = forger._extend(
                forger.state(),
                leaves[start:size],
                size,
                self.latest().origin,
                when + dt.timedelta(minutes=i),
                key or self.key,
            )
            start = size
        if wipe:
            shutil.rmtree(self.site / "log")
        shutil.copytree(forger.public, self.site / "log", dirs_exist_ok=True)
        return ref

    def forge_status(
        self,
        entries: Sequence[Entry],
        ref: LogRef | None,
        when: dt.datetime,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        version: int | None = None,
    ) -> None:
        """Sign and publish a status list of the school's choosing, bound to ``ref``: the next
        version, or ``version`` again (a second content under one version), with the school's
        key or ``key``."""
        with Authority(self.home) as auth:
            last = auth.registry.last_publication()
            school = auth.school
            if version is None:
                version = int(last["version"]) + 1 if last else 1
                auth.registry.record_publication(version, format_time(when), "-", 0, "-", ACTOR)
        built = build_publication(
            build_shards(entries, 4),
            issuer=Issuer(school.code, school.name_zh, school.name_en),
            version=version,
            issued_at=when,
            expires=when + dt.timedelta(days=7),
            key=key or self.key,
            extra=ref.to_extra() if ref else None,
        )
        write_publication(self.site, built)
        _write_atomic(self.site / "status" / "timestamp.json", built.files["timestamp.json"])


@pytest.fixture
def school(issued: Issued, tmp_path: Path) -> School:
    """A copy of the session's authority, publishing into its own folder."""
    home = tmp_path / "home"
    shutil.copytree(issued.home, home, ignore=shutil.ignore_patterns("lock", "documents"))
    return School(home, tmp_path / "site", tmp_path / "auditor-state.json")


def make_history(school: School) -> School:
    """An honest history of four publishes, audited (and remembered) after each one:
    issuances, a reissue, a revocation, a publish with nothing new, a tile boundary crossed."""
    docs = school.add(3, at(0))
    school.publish(at(1))
    assert school.audit(at(1.5)).ok
    school.reissue(docs[0], at(2))
    school.revoke(docs[1], at(2.5))
    school.publish(at(3))
    assert school.audit(at(3.5)).ok
    school.publish(at(4))
    school.add(300, at(5))
    school.publish(at(6))
    report = school.audit(at(6.5))
    assert report.ok, report.to_text()
    return school


@pytest.fixture
def history(school: School) -> School:
    """An honest history of four publishes, audited and remembered (:func:`make_history`)."""
    return make_history(school)


def entries_from(leaves: Sequence[bytes]) -> list[Entry]:
    """The status list a log implies, built with the model (as a dishonest school would)."""
    docs: dict[str, list[LogEvent]] = {}
    for leaf in leaves:
        ev = LogEvent.from_bytes(leaf)
        docs.setdefault(ev.sha256, []).append(ev)
    out = []
    for sha, events in docs.items():
        issued, rest = events[0], events[1:]
        sup = next((e for e in rest if e.event == "superseded"), None)
        rev = next((e for e in rest if e.event == "revoked"), None)
        out.append(
            Entry(
                sha,
                issued.doc_type,
                issued.at,
                issued.limit,
                "revoked" if rev else "superseded" if sup else "active",
                sup.successor if sup else None,
                sup.at if sup else None,
                rev.reason if rev else None,
                rev.at if rev else None,
                tuple(e.index for e in events),
            )
        )
    return out
