"""The status list as the verifier fetches it from a static host (pytest-httpserver): refreshed,
tampered and rolled-back lists refused with the last good one kept, expired lists reported."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from authority.production import Producer
from authority.service import Authority, IssueRequest
from certseal.errors import BelowPinError, ConfigurationError, InputError, RollbackError
from certseal.statuslist import Pin
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE
from verifier.config import VerifierConfig
from verifier.counter import Counter
from verifier.engine import Limits, build_verifier
from verifier.status import IssuerTrust, StatusSource


class StaticHost:
    """Serves a published folder's files; the test swaps what it serves."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.files: dict[str, bytes] = {}
        httpserver.expect_request(re.compile(r"^/site/.*")).respond_with_handler(self.handle)
        self.url = httpserver.url_for("/site/")

    def handle(self, request: Request) -> Response:
        data = self.files.get(request.path.removeprefix("/site/"))
        return Response(data, 200) if data is not None else Response(b"not found", 404)

    def serve(self, folder: Path) -> None:
        self.files = {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }


@pytest.fixture
def two_versions(home: Path, tmp_path: Path) -> tuple[Path, Path, Path, str]:
    """v1 with one active diploma; v2 after it was revoked. Returns (v1, v2, keys, sha)."""
    with Authority(home) as auth:
        sid = auth.registry.student_ids()[0]
        auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        rep = auth.issue(
            [IssueRequest("diploma_zh", sid)],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        doc = rep.issued[0]
        out = tmp_path / "pub"
        auth.publish(out, PASSPHRASE, now=NOW, actor=ACTOR)
        v1 = tmp_path / "v1"
        shutil.copytree(out, v1)
        auth.revoke(
            doc.doc_id, "degree_revoked", "test", now=NOW + dt.timedelta(hours=1), actor=ACTOR
        )
        auth.publish(out, PASSPHRASE, now=NOW + dt.timedelta(hours=2), actor=ACTOR)
    return v1, out, home / "keys", doc.sha256


def _source(keys: Path, url: str, tmp_path: Path) -> StatusSource:
    trust = IssuerTrust.from_files("demo", [keys / "root.pem"], [keys / "statuslist.pem"], url)
    return StatusSource(trust, Counter(tmp_path / "counts.sqlite"), refresh_seconds=0)


def test_fetches_over_http_and_refuses_rollback(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    v1, v2, keys, sha = two_versions
    host = StaticHost(httpserver)
    src = _source(keys, host.url, tmp_path)
    host.serve(v2)
    state = src.current(NOW + dt.timedelta(hours=3))
    assert state is not None and state.version == 2
    entry = src.lookup(state, sha)
    assert entry is not None and entry.state == "revoked"
    host.serve(v1)  # the host (or an attacker) serves the older list, where it was active
    src.refresh(NOW + dt.timedelta(hours=4))
    assert isinstance(src.last_error, RollbackError)
    assert src.state is not None and src.state.version == 2
    assert "rollback" in src.describe(NOW).last_error  # type: ignore[operator]


def test_rollback_refused_after_restart(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    """The newest version seen is remembered in the database, not only in memory."""
    v1, v2, keys, _ = two_versions
    host = StaticHost(httpserver)
    host.serve(v2)
    _source(keys, host.url, tmp_path).refresh(NOW + dt.timedelta(hours=3))
    host.serve(v1)
    fresh = _source(keys, host.url, tmp_path)
    fresh.refresh(NOW + dt.timedelta(hours=3))
    assert fresh.state is None and isinstance(fresh.last_error, RollbackError)


def test_tampered_list_is_refused_and_last_good_kept(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    v1, _, keys, _ = two_versions
    host = StaticHost(httpserver)
    host.serve(v1)
    src = _source(keys, host.url, tmp_path)
    assert src.current(NOW) is not None
    ts = json.loads(host.files["status/timestamp.json"])
    ts["signed"]["version"] = 99
    host.files["status/timestamp.json"] = json.dumps(ts).encode()
    src.refresh(NOW + dt.timedelta(minutes=5))
    assert src.state is not None and src.state.version == 1
    assert "signature" in (src.describe(NOW).last_error or "")


def test_expired_list_gives_status_stale(
    two_versions: tuple[Path, Path, Path, str], home: Path, tmp_path: Path
) -> None:
    """Authentic, but the list could not be refreshed before it expired: a warning, as of when."""
    v1, _, keys, _ = two_versions
    pdf = next((home / "documents").glob("*.pdf")).read_bytes()
    trust = IssuerTrust.from_files("demo", [keys / "root.pem"], [keys / "statuslist.pem"], str(v1))
    verifier = build_verifier([trust], Counter(tmp_path / "c.sqlite"), Limits())
    late = NOW + dt.timedelta(days=30)
    v = verifier.verify(pdf, late)
    assert (v.result, v.codes) == ("warning", ("status_stale",))
    assert v.status_list is not None and v.status_list.stale
    assert "expired" in v.to_dict("en")["reasons"][0]["message"]


def test_unreachable_host_reports_error(
    tmp_path: Path, two_versions: tuple[Path, Path, Path, str]
) -> None:
    _, _, keys, _ = two_versions
    src = _source(keys, "http://127.0.0.1:9/site/", tmp_path)
    assert src.current(NOW) is None
    assert "cannot fetch" in (src.describe(NOW).last_error or "")


def test_operator_pin_refuses_an_older_list_on_first_use(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    """A verifier with no memory would take v1; the pin (from its config) says v2 exists."""
    v1, _, keys, _ = two_versions
    host = StaticHost(httpserver)
    host.serve(v1)
    cfg = VerifierConfig.from_dict(
        {
            "issuers": [
                {"name": "demo", "trust_dir": str(keys), "source": host.url, "min_version": 2}
            ],
            "counts_db": str(tmp_path / "c.sqlite"),
        }
    )
    pin = cfg.issuers[0].pin
    assert pin == Pin(min_version=2)
    trust = IssuerTrust.from_files(
        "demo", [keys / "root.pem"], [keys / "statuslist.pem"], host.url, pin
    )
    src = StatusSource(trust, Counter(tmp_path / "counts.sqlite"), refresh_seconds=0)
    assert src.current(NOW + dt.timedelta(hours=3)) is None
    assert isinstance(src.last_error, BelowPinError)
    assert "minimum version 2" in (src.describe(NOW).last_error or "")


@pytest.mark.parametrize(
    ("setting", "message"),
    [({"min_version": "7"}, "min_version"), ({"not_before": "2026-06-20"}, "not_before")],
)
def test_a_bad_pin_setting_is_a_clear_configuration_error(
    two_versions: tuple[Path, Path, Path, str], setting: dict[str, object], message: str
) -> None:
    _, v2, keys, _ = two_versions
    issuer = {"name": "demo", "trust_dir": str(keys), "source": str(v2), **setting}
    with pytest.raises(ConfigurationError, match=f"issuer demo: .*{message}"):
        VerifierConfig.from_dict({"issuers": [issuer]})


def test_a_worker_behind_the_shared_version_does_not_answer_from_its_old_list(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    """Another worker trusts v2; this one holds v1 and its host still serves v1: no answer
    from v1 (where the revoked document is still active)."""
    v1, _, keys, _ = two_versions
    host = StaticHost(httpserver)
    host.serve(v1)
    src = _source(keys, host.url, tmp_path)
    assert (state := src.current(NOW)) is not None and state.version == 1
    Counter(tmp_path / "counts.sqlite").record_seen("demo", 2)  # another worker's view
    assert src.current(NOW + dt.timedelta(seconds=2)) is None
    assert isinstance(src.last_error, RollbackError)


def test_renewed_timestamp_ends_stale_without_a_new_version(
    httpserver: HTTPServer, two_versions: tuple[Path, Path, Path, str], home: Path, tmp_path: Path
) -> None:
    """The timestamp lives 6 hours: past that the list is stale, until the authority's routine
    ``publish --timestamp-only`` renews it; the verifier then reads only the timestamp."""
    _, v2, keys, _ = two_versions  # v2 published at NOW + 2 h
    host = StaticHost(httpserver)
    host.serve(v2)
    src = _source(keys, host.url, tmp_path)
    late = NOW + dt.timedelta(hours=9)
    state = src.current(late)
    assert state is not None and state.is_expired(late) and src.describe(late).stale
    assert state.expires == NOW + dt.timedelta(hours=8)
    with Authority(home) as auth:
        report = auth.renew_timestamp(v2, PASSPHRASE, now=late)
        with pytest.raises(RollbackError, match="must be issued after"):
            auth.renew_timestamp(v2, PASSPHRASE, now=late)
    assert (report.version, report.timestamp_expires) == (2, late + dt.timedelta(hours=6))
    host.serve(v2)
    requests: list[str] = []
    httpserver.log.clear()
    src.refresh(late + dt.timedelta(minutes=1))
    requests = [r.path for r, _ in httpserver.log]
    assert requests == ["/site/status/timestamp.json"]
    status = src.describe(late + dt.timedelta(minutes=1))
    assert (status.version, status.stale, status.last_error) == (2, False, None)


def test_timestamp_only_is_refused_when_changes_are_unpublished(
    two_versions: tuple[Path, Path, Path, str], home: Path
) -> None:
    """A fresh timestamp over the old snapshot would say no change is missing from it."""
    _, v2, _, _ = two_versions
    with Authority(home) as auth:
        sid = auth.registry.student_ids()[0]
        auth.issue(
            [IssueRequest("diploma_zh", sid, "again")],
            now=NOW + dt.timedelta(hours=3),
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        with pytest.raises(InputError, match=r"1 change\(s\) since version 2 are not published"):
            auth.renew_timestamp(v2, PASSPHRASE, now=NOW + dt.timedelta(hours=4))


def test_the_shared_store_gets_the_version_and_its_time(
    two_versions: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    """What one worker trusted is every worker's floor: version and timestamp time."""
    _, v2, keys, _ = two_versions
    src = _source(keys, str(v2), tmp_path)
    state = src.current(NOW + dt.timedelta(hours=3))
    assert state is not None
    shared = Counter(tmp_path / "counts.sqlite").seen("demo")
    assert (shared.version, shared.issued_at) == (
        2,
        NOW.replace(microsecond=0) + dt.timedelta(hours=2),
    )
