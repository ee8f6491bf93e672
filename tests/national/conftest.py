"""The national verifier's world: three real authorities that issued real diplomas, an operator
with three root keys, the trust list and every school's status list and log served by a real
HTTP server on 127.0.0.1, and the verifier app pinning only the federation's first root."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from authority.onboarding import prepare_request
from authority.production import Producer
from authority.service import Authority, IssueRequest, init_authority
from certseal.trustlist import metadata_path
from federation.operator import Operator, init_operator
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, sample_bytes
from tests.federation.conftest import SCHOOLS, T0, Federation, school
from verifier.app import create_app

SPEC = yaml.safe_load(Path("verifier/openapi.yaml").read_text())
SCHEMA = {**SPEC["components"]["schemas"]["Verification"], "components": SPEC["components"]}
CODES = tuple(SCHOOLS)
PUBLISHED = NOW + dt.timedelta(hours=1)
"""When every school published its status list and log (its checkpoint's time)."""
READY = NOW + dt.timedelta(minutes=90)
"""When the operator last re-signed the trust list."""
CLOCK = NOW + dt.timedelta(hours=2)
"""The verifier's time."""


@dataclass
class Schools:
    """The session's authorities: their homes, and their documents by role."""

    homes: dict[str, Path]
    sites: Path  # <code>/ : each school's published site (status/, log/)
    docs: dict[str, dict[str, bytes]]  # code -> role -> PDF bytes


def _issue_one(auth: Authority, student: str, at: dt.datetime) -> bytes:
    auth.record_collection(student, COLLECTED, doc_type="diploma_zh", now=at, actor=ACTOR)
    report = auth.issue(
        [IssueRequest("diploma_zh", student)],
        now=at,
        actor=ACTOR,
        produce=Producer(auth.keys_dir, PASSPHRASE),
    )
    assert not report.failed, report.failed
    return (auth.home / auth.registry.document(report.issued[0].doc_id).path).read_bytes()


@pytest.fixture(scope="session")
def schools(tmp_path_factory: pytest.TempPathFactory) -> Schools:
    base = tmp_path_factory.mktemp("national")
    homes, docs = {}, {}
    for code in CODES:
        home = homes[code] = base / code
        init_authority(home, school(code), PASSPHRASE, T0 - dt.timedelta(days=10))
        with Authority(home) as auth:
            auth.import_records(
                "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
            )
            students = auth.registry.student_ids()
            genuine = _issue_one(auth, students[0], NOW)
            auth.publish(base / "sites" / code, PASSPHRASE, now=PUBLISHED, actor=ACTOR)
            # Issued after the publication: in no status list yet.
            later = _issue_one(auth, students[1], PUBLISHED + dt.timedelta(minutes=1))
        docs[code] = {"genuine": genuine, "unpublished": later}
    return Schools(homes, base / "sites", docs)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def www(tmp_path: Path, schools: Schools) -> Iterator[tuple[Path, str]]:
    """A copy of every school's site (tests may alter it) served over HTTP: (folder, URL)."""
    root = tmp_path / "www"
    shutil.copytree(schools.sites, root)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class National:
    """An operator over the session's schools, the served folder, and the verifier apps."""

    federation: Federation
    www: Path
    url: str
    tmp: Path
    apps: list[Flask] = field(default_factory=list)

    def operator(self) -> Operator:
        return self.federation.operator()

    def set_state(self, code: str, state: str, at: dt.datetime, **kw: Any) -> None:
        with self.operator() as op:
            op.set_state(
                code,
                state,
                at=at,
                now=max(at, READY - dt.timedelta(minutes=5)),
                signers=self.federation.roots[:2],
                online=self.federation.online,
                **kw,
            )

    def publish(self, now: dt.datetime = READY) -> None:
        """Re-sign snapshot and timestamp as of ``now`` and publish into the served folder."""
        with self.operator() as op:
            op.refresh(now=now, online=self.federation.online)
            op.publish(self.www)

    def root_pin(self) -> Path:
        return self.federation.home / "repo" / metadata_path("root", 1)

    def app(self, clock: Callable[[], dt.datetime] = lambda: CLOCK) -> FlaskClient:
        app = create_app(
            {
                "federation": {"trust_list_url": f"{self.url}/trust/", "root_pin": self.root_pin()},
                "counts_db": str(self.tmp / "counts.sqlite"),
                "refresh_seconds": 60,
            },
            clock=clock,
        )
        self.apps.append(app)
        return app.test_client()

    def verify(self, data: bytes, client: FlaskClient | None = None) -> dict[str, Any]:
        resp = (client or self.app()).post(
            "/api/v1/verify?lang=en", data=data, content_type="application/pdf"
        )
        body: dict[str, Any] = resp.get_json()
        jsonschema.validate(body, SCHEMA)  # every national answer keeps the API contract
        body["http"] = resp.status_code
        return body


def make_national(
    schools: Schools, www: tuple[Path, str], tmp: Path, admitted: tuple[str, ...] = CODES
) -> National:
    """An operator admitting ``admitted`` (in that order, an hour apart from T0), whose
    profiles point at the served folder."""
    folder, url = www
    home = tmp / "operator"
    names = init_operator(home, "trust.moe.example.tw/trust/log", PASSPHRASE, T0)
    with Operator(home) as op:
        roots = op.signers(names, dict.fromkeys(names, PASSPHRASE))
        online = op.online_key(PASSPHRASE)
        for i, code in enumerate(admitted):
            at = T0 + dt.timedelta(hours=i + 1)
            request = prepare_request(
                schools.homes[code] / "keys",
                PASSPHRASE,
                school(code),
                domains=[f"{code.lower()}.edu.tw"],
                status_list_url=f"{url}/{code}/status/",
                log_url=f"{url}/{code}/log/",
                now=at,
            ).data
            op.accept_request(request, now=at, signers=roots[:2], online=online)
    return National(Federation(home, roots, online, dict(schools.homes)), folder, url, tmp)


@pytest.fixture
def national(schools: Schools, www: tuple[Path, str], tmp_path: Path) -> Iterator[National]:
    n = make_national(schools, www, tmp_path)
    yield n
    for app in n.apps:
        app.extensions["certseal.verifier"].counter.close()
