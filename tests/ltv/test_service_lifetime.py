"""The verifier service itself runs the AdES long-term check, through real HTTP: with its
clock 20 and 50 years on (past the signing certificate's ten years), a listed B-LTA diploma and
its extended copy still verify, a B-T and a B-B one fail saying what they lack; today, within
the certificate's validity, a listed file keeps the fast answer (no parse).

The TSA (certomancer, tests/ltv/pki.py) answers as of that future time, as a TSA decades on
would; the verifier fetches only the newest timestamp's revocation data from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authority.ltv import extend_timestamp
from authority.service import Authority
from tests.conftest import ACTOR, NOW, PASSPHRASE, make_authority
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at
from tests.ltv.test_lifetime import _issue, _services
from tests.verifier.conftest import LiveServer
from tests.verifier.test_api import post_raw
from verifier.app import create_app

YEAR = dt.timedelta(days=365)
PROFILES = ("B-B", "B-T", "B-LTA")


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory, pki: LivePki) -> dict[str, Any]:
    """An authority that issued one diploma per profile today, and an extended B-LTA copy."""
    home = tmp_path_factory.mktemp("service-ltv") / "home"
    make_authority(home)
    with Authority(home) as auth:
        students = auth.registry.student_ids()[: len(PROFILES)]
    docs = {}
    for profile, student in zip(PROFILES, students, strict=True):
        configure(home, pki, profile)
        docs[profile] = _issue(home, student)[0]
    docs["extended"] = extend_timestamp(docs["B-LTA"], _services(home))
    tsa_root = home.parent / "tsa-root.pem"
    tsa_root.write_bytes(pki.pem("root"))
    return {"home": home, "docs": docs, "tsa_root": tsa_root}


def _serve(school: dict[str, Any], tmp: Path, when: dt.datetime) -> Iterator[LiveServer]:
    """Publish as of ``when`` (a fresh list then) and serve it with the clock at ``when``."""
    home: Path = school["home"]
    out = tmp / "site"
    with Authority(home) as auth:
        auth.publish(out, PASSPHRASE, now=when - dt.timedelta(minutes=5), actor=ACTOR)
    keys = home / "keys"
    config = {
        "issuers": [
            {
                "name": "demo",
                "roots": [str(keys / "root.pem"), str(school["tsa_root"])],
                "status_certs": [str(keys / "statuslist.pem")],
                "source": str(out),
            }
        ],
        "counts_db": str(tmp / "counts.sqlite"),
    }
    server = LiveServer(create_app(config, clock=lambda: when))
    try:
        yield server
    finally:
        server.stop()


def _chain(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["name"] == "certificate_chain")


def _codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


def test_within_the_certificates_validity_the_listed_answer_is_unchanged(
    school: dict[str, Any], tmp_path: Path
) -> None:
    for server in _serve(school, tmp_path, NOW + dt.timedelta(hours=1)):
        for profile in PROFILES:
            status, body = post_raw(server.url + "/api/v1/verify?lang=en", school["docs"][profile])
            assert (status, body["result"]) == (200, "success"), (profile, body["reasons"])
            assert "proven by the status list" in _chain(body)["detail"]


@pytest.mark.parametrize("years", [20, 50])
def test_decades_on_the_service_runs_ades(
    school: dict[str, Any], pki: LivePki, tmp_path: Path, years: int
) -> None:
    when = NOW + years * YEAR
    docs = school["docs"]
    with answering_at(pki, when):
        for server in _serve(school, tmp_path, when):
            url = server.url + "/api/v1/verify"
            for name in ("B-LTA", "extended"):
                status, body = post_raw(url + "?lang=en", docs[name])
                assert (status, body["result"]) == (200, "success"), (name, body["checks"])
                chain = _chain(body)
                assert chain["status"] == "passed"
                assert "expired on" in chain["detail"] and "AdES" in chain["detail"]
            status, bt = post_raw(url + "?lang=en", docs["B-T"])
            assert (status, bt["result"]) == (200, "failure")
            assert _codes(bt) == ["long_term_unproven"]
            message = bt["reasons"][0]["message"]
            assert "expired on" in message and "Ask the school for a new copy" in message
            assert "validation data" in message and "document timestamp" in message
            assert "timestamp on the signature" not in message  # B-T has that one
            assert _chain(bt)["status"] == "failed"
            _, bb = post_raw(url + "?lang=zh-TW", docs["B-B"])
            assert _codes(bb) == ["long_term_unproven"]
            zh = bb["reasons"][0]["message"]
            assert "簽章時戳" in zh and "驗證資料" in zh and "文件時戳" in zh and "已於" in zh
