"""The national verifier's long-term check trusts the time-stamping authorities its operator
names (``timestamp_roots``), for every school of the trust list.

Every school signs a B-LTA diploma today against a real TSA (certomancer, tests/ltv/pki.py);
20 years on, past the signing certificates' validity, the verifier runs pyhanko's AdES check
with the school's root from the trust list. The trust list gives no TSA roots: without the
setting the check cannot pass and the answer names the authority it does not trust; with it,
every school's diploma verifies. Real TSA/OCSP/CRL, trust list and status lists on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authority import onboarding
from authority.rotation import rotate_key
from authority.service import Authority, init_authority
from certseal import trustlist
from federation import operator
from tests.conftest import ACTOR, NOW, PASSPHRASE, sample_bytes
from tests.federation.conftest import T0, school
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at, live_pki
from tests.national.conftest import (
    CODES,
    PUBLISHED,
    National,
    Schools,
    _issue_one,
    make_national,
)
from tests.national.test_national_verifier import check, codes
from verifier.app import create_app

YEAR = dt.timedelta(days=365)
WHEN = NOW + 20 * YEAR
"""The verifier's time: the schools' signing certificates have expired."""


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePki]:
    with live_pki(tmp_path_factory.mktemp("national-tsa") / "keys") as live:
        yield live


@pytest.fixture(scope="module")
def schools(tmp_path_factory: pytest.TempPathFactory, tsa: LivePki) -> Schools:
    """Every school's B-LTA diploma issued today and listed (its list published today)."""
    base = tmp_path_factory.mktemp("national-long-term")
    homes, docs = {}, {}
    for code in CODES:
        home = homes[code] = base / code
        init_authority(home, school(code), PASSPHRASE, T0 - dt.timedelta(days=10))
        configure(home, tsa, "B-LTA")
        with Authority(home) as auth:
            auth.import_records(
                "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
            )
            docs[code] = {"genuine": _issue_one(auth, auth.registry.student_ids()[0], NOW)}
            auth.publish(base / "sites" / code, PASSPHRASE, now=PUBLISHED, actor=ACTOR)
    return Schools(homes, base / "sites", docs)


@pytest.fixture
def national(
    schools: Schools,
    www: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[National]:
    """The operator admitting every school today; each school re-keys its status list at +9
    and +18 years (the key's ten years) and publishes its list 20 years on, with the trust
    list re-signed then. The operator's root, its lists of schools and each school's key
    history live a year, and the operator has no command to renew the root yet: here they
    are made to outlive the test instead of being renewed twenty times. The schools' homes
    are changed (rotated keys): one test uses this fixture."""
    monkeypatch.setitem(operator.DAYS, "root", 30 * 365)
    monkeypatch.setitem(operator.DAYS, "targets", 30 * 365)
    monkeypatch.setattr(onboarding, "ROLE_DAYS", 30 * 365)
    n = make_national(schools, www, tmp_path)
    signers, online = n.federation.roots[:2], n.federation.online
    # The key each school's role is delegated to: the status-list key it was admitted with.
    delegated = {code: n.federation.status_key(code) for code in CODES}
    with n.operator() as op:
        for at in (NOW + 9 * YEAR, NOW + 18 * YEAR):
            # Each school re-keys its status list before the key's ten years run out, and
            # publishes the key history that says so.
            op.refresh(now=at, online=online, signers=signers)
            for code in CODES:
                turn = rotate_key(schools.homes[code] / "keys", school(code), "statuslist",
                                  PASSPHRASE, at)  # fmt: skip
                entry = op.trust_list(at).schools[code]
                keys = [turn.old if k.cert_sha256 == turn.old.cert_sha256 else k
                        for k in entry.keys] + [turn.new]  # fmt: skip
                role = trustlist.school_role(code, keys, entry.role_version + 1, WHEN + YEAR)
                trustlist.sign(role, delegated[code])
                op.update_role(code, trustlist.to_bytes(role), now=at, online=online)
        op.refresh(now=WHEN - dt.timedelta(minutes=30), online=online, signers=signers)
        op.publish(n.www)
    for code in CODES:
        with Authority(schools.homes[code]) as auth:
            auth.publish(n.www / code, PASSPHRASE, now=WHEN - dt.timedelta(hours=1), actor=ACTOR)
    yield n
    for app in n.apps:
        app.extensions["certseal.verifier"].counter.close()


def _verify(
    national: National, schools: Schools, timestamp_roots: list[str]
) -> dict[str, dict[str, Any]]:
    """Every school's diploma through a national verifier at ``WHEN``."""
    app = create_app(
        {
            "federation": {
                "trust_list_url": f"{national.url}/trust/",
                "root_pin": str(national.root_pin()),
            },
            "counts_db": str(national.tmp / "counts.sqlite"),
            "timestamp_roots": timestamp_roots,
        },
        clock=lambda: WHEN,
    )
    national.apps.append(app)
    client = app.test_client()
    return {code: national.verify(d["genuine"], client) for code, d in schools.docs.items()}


def test_decades_on_every_school_needs_the_tsas_root_from_the_operator(
    national: National, schools: Schools, tsa: LivePki, tmp_path: Path
) -> None:
    tsa_root = tmp_path / "tsa-root.pem"
    tsa_root.write_bytes(tsa.pem("root"))
    with answering_at(tsa, WHEN):
        without = _verify(national, schools, [])
        trusted = _verify(national, schools, [str(tsa_root)])
    for code in CODES:
        body = without[code]
        assert (body["http"], body["result"]) == (200, "failure"), (code, body["checks"])
        assert codes(body) == ["long_term_unproven"], body["checks"]
        message = body["reasons"][0]["message"]
        assert "Test Time Stamping Authority" in message and "timestamp_roots" in message
        assert check(body, "certificate_chain")["status"] == "failed"
        body = trusted[code]
        assert (body["http"], body["result"]) == (200, "success"), (code, body["checks"])
        assert body["document"]["issuer_code"] == code
        chain = check(body, "certificate_chain")
        assert chain["status"] == "passed"
        assert "expired on" in chain["detail"] and "AdES" in chain["detail"]
