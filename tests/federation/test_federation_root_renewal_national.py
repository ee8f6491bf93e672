"""A national verifier pinned to root v1 (the real app, the trust list served over HTTP on
127.0.0.1) after the first root's year: it keeps answering when the operator renewed the root
in time, and refuses the list, saying why, when it did not.

The schools' key histories are made to outlive the test (their renewal is the schools' own
``update-keys``): only the root's year is under test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authority import onboarding
from tests.federation.conftest import T0
from tests.national.conftest import (  # noqa: F401 - fixtures
    National,
    Schools,
    make_national,
    schools,
    www,
)

RENEWED = T0 + dt.timedelta(days=300)
LATER = T0 + dt.timedelta(days=400)


@pytest.fixture
def national(
    schools: Schools,  # noqa: F811
    www: tuple[Path, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[National]:
    monkeypatch.setattr(onboarding, "ROLE_DAYS", 3 * 365)
    n = make_national(schools, www, tmp_path)
    with n.operator() as op:
        op.refresh(now=RENEWED, online=n.federation.online, signers=n.federation.roots[:2])
    yield n
    for app in n.apps:
        app.extensions["certseal.verifier"].counter.close()


def answer_at_later(national: National, schools: Schools) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: F811
    """The trust list's line of the verifier's status, and a genuine diploma's answer."""
    client = national.app(clock=lambda: LATER)
    body = national.verify(schools.docs["NKUST"]["genuine"], client)
    status = client.get("/api/v1/status").get_json()
    line = next(s for s in status["status_lists"] if s["issuer"] == "trustlist")
    return line, body


def test_a_verifier_pinned_to_root_v1_trusts_the_renewed_list(
    national: National,
    schools: Schools,  # noqa: F811
) -> None:
    fed = national.federation
    with national.operator() as op:
        op.renew_root(now=RENEWED, signers=fed.roots[:2], online=fed.online)
        op.refresh(now=LATER - dt.timedelta(minutes=30), online=fed.online, signers=fed.roots[:2])
        op.publish(national.www)
    line, body = answer_at_later(national, schools)
    assert line["loaded"] and not line["stale"] and line["last_error"] is None, line
    status = [c for c in body["checks"] if c["name"] == "status_list"]
    assert "trust list could not be loaded" not in status[0]["detail"], body
    assert [c["status"] for c in body["checks"] if c["name"] == "trust_list"] == ["passed"]


def test_without_the_renewal_the_verifier_refuses_the_list(
    national: National,
    schools: Schools,  # noqa: F811
) -> None:
    with national.operator() as op:
        op.publish(national.www)
    line, body = answer_at_later(national, schools)
    assert not line["loaded"] and "root.json is expired" in line["last_error"], line
    assert [r["code"] for r in body["reasons"]] == ["status_unavailable"], body
    status = [c for c in body["checks"] if c["name"] == "status_list"]
    assert status[0]["status"] == "failed"
    assert "trust list could not be loaded" in status[0]["detail"]
    assert "root.json is expired" in status[0]["detail"]
