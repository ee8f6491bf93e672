"""The operator renews its root before it expires (``renew-root``): a verifier pinned to root v1
follows the signed chain and keeps trusting the list past the first root's year; without the
renewal it refuses the list. A renewal below the threshold writes nothing; the renewal is a
``root`` event of the trust-list log, and the auditor catches a root rewritten after it.

Real keys, real files, real python-tuf client. The schools' own key histories (365 days, the
schools' business, renewed with ``update-keys``) are made to outlive the test: only the root's
year is under test here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tuf.api.metadata import Metadata

from auditor.trustlist import audit_trust_list
from authority import onboarding
from certseal import trustlist
from certseal.errors import (
    ExpiredError,
    InputError,
    SignatureVerificationError,
    StateError,
)
from certseal.fetch import published_fetcher
from certseal.timeutil import format_time
from certseal.trustlist import TRUST_DIR, TrustListClient, metadata_path
from cli import main
from federation.operator import root_notice
from tests.conftest import PASSPHRASE
from tests.federation.conftest import T0, Federation, make_federation

RENEWED = T0 + dt.timedelta(days=300)
LATER = T0 + dt.timedelta(days=400)
"""Past root v1's expiry (T0 + 365 days)."""


@pytest.fixture
def fed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Federation]:
    monkeypatch.setattr(onboarding, "ROLE_DAYS", 3 * 365)
    yield make_federation(tmp_path)


def pin(fed: Federation) -> bytes:
    return (fed.home / "repo" / metadata_path("root", 1)).read_bytes()


def renew_and_refresh(fed: Federation, folder: Path) -> None:
    """Renew at +300 days; refresh everything (targets too) at +400; publish."""
    with fed.operator() as op:
        op.refresh(now=RENEWED, online=fed.online, signers=fed.roots[:2])
        op.renew_root(now=RENEWED, signers=fed.roots[1:], online=fed.online)
        op.refresh(now=LATER, online=fed.online, signers=fed.roots[:2])
        op.publish(folder)


def test_a_client_pinned_to_root_v1_trusts_the_renewed_list(
    fed: Federation, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    renew_and_refresh(fed, folder)
    client = TrustListClient(published_fetcher(str(folder), TRUST_DIR), pin(fed))
    tl = client.refresh(LATER)
    assert sorted(tl.schools) == ["NKUST", "NTCU", "NTHU"]
    new = Metadata.from_bytes(client.root)
    old = Metadata.from_bytes(pin(fed))
    assert new.signed.version == 2
    assert new.signed.expires == RENEWED.replace(microsecond=0) + dt.timedelta(days=365)
    # Same keys, same thresholds: only the version and the expiry move.
    assert new.signed.keys == old.signed.keys and new.signed.roles == old.signed.roles
    assert tl.expires > LATER
    with fed.operator() as op:
        assert op.state().root == 2
        events = op.events()
    root_events = [e for e in events if e.event == "root"]
    assert len(root_events) == 1 and root_events[0].version == 2
    written = (fed.home / "repo" / metadata_path("root", 2)).read_bytes()
    assert root_events[0].sha256 == hashlib.sha256(written).hexdigest()
    assert trustlist.TrustEvent.from_bytes(root_events[0].to_bytes()) == root_events[0]


def test_without_the_renewal_the_list_is_refused(fed: Federation, tmp_path: Path) -> None:
    folder = tmp_path / "site"
    with fed.operator() as op:
        op.refresh(now=RENEWED, online=fed.online, signers=fed.roots[:2])
        op.publish(folder)
        with pytest.raises(StateError, match="renew-root"):
            op.refresh(now=LATER, online=fed.online, signers=fed.roots[:2])
        assert op.state().time == format_time(RENEWED)
    client = TrustListClient(published_fetcher(str(folder), TRUST_DIR), pin(fed))
    with pytest.raises(ExpiredError, match=r"root\.json is expired"):
        client.refresh(LATER)


def test_a_renewal_below_the_threshold_writes_nothing(fed: Federation) -> None:
    repo = fed.home / "repo"
    with fed.operator() as op:
        before = op.state()
        leaves = (fed.home / "log" / "leaves.jsonl").read_bytes()
        with pytest.raises(InputError, match="needs 2 of the offline keys"):
            op.renew_root(now=RENEWED, signers=fed.roots[:1], online=fed.online)
        with pytest.raises(InputError, match="needs 2 of the offline keys"):
            op.renew_root(now=RENEWED, signers=[fed.roots[0]] * 2, online=fed.online)
        with pytest.raises(InputError, match="not one of the federation's root keys"):
            op.renew_root(now=RENEWED, signers=[fed.roots[0], fed.online], online=fed.online)
        assert op.state() == before
    assert not (repo / metadata_path("root", 2)).exists()
    assert (fed.home / "log" / "leaves.jsonl").read_bytes() == leaves


def test_an_interrupted_renewal_is_taken_up_not_rewritten(fed: Federation) -> None:
    """A root written by a renewal that stopped before its commit may already be public: the
    next renewal commits that very file instead of failing on it or replacing it; a file there
    that the root threshold did not sign stops every operation, as it stops every client."""
    path = fed.home / "repo" / metadata_path("root", 2)

    def written_root(signers: int) -> bytes:
        md = Metadata.from_bytes(pin(fed))
        md.signed.version = 2
        md.signed.expires = RENEWED + dt.timedelta(days=365)
        md.signatures.clear()
        for key in fed.roots[:signers]:
            trustlist.sign(md, key)
        return trustlist.to_bytes(md)

    with fed.operator() as op:
        op.refresh(now=RENEWED, online=fed.online, signers=fed.roots[:2])
    path.write_bytes(written_root(1))
    with fed.operator() as op, pytest.raises(SignatureVerificationError, match="root v2 is not"):
        op.renew_root(now=RENEWED, signers=fed.roots[:2], online=fed.online)
    path.write_bytes(interrupted := written_root(2))
    with fed.operator() as op:
        assert op.state().root == 1
        op.renew_root(now=RENEWED, signers=fed.roots[1:], online=fed.online)
        assert op.state().root == 2
        event = op.events()[-1]
    assert path.read_bytes() == interrupted
    assert event.event == "root" and event.sha256 == hashlib.sha256(interrupted).hexdigest()


def test_the_auditor_accepts_the_renewed_root_and_catches_a_rewritten_one(
    fed: Federation, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    renew_and_refresh(fed, folder)
    trust = folder / TRUST_DIR
    clean = audit_trust_list(str(trust), pin(fed), reference_time=LATER)
    assert clean.ok, clean.to_text()
    assert clean.facts["root"] == "version 2 (2 in the chain)"
    assert clean.new_state is not None
    # Root v2 re-signed by the threshold after it was published, with a longer life: every
    # client accepts it, only the log and the auditor's memory tell.
    path = trust / metadata_path("root", 2)
    md = Metadata.from_bytes(path.read_bytes())
    md.signed.expires += dt.timedelta(days=3650)
    md.signatures.clear()
    for key in fed.roots[:2]:
        trustlist.sign(md, key)
    path.write_bytes(trustlist.to_bytes(md))
    TrustListClient(published_fetcher(str(trust), "."), pin(fed)).refresh(LATER)
    first = audit_trust_list(str(trust), pin(fed), reference_time=LATER)
    assert set(first.codes) == {"root_not_logged"}, first.to_text()
    again = audit_trust_list(str(trust), pin(fed), reference_time=LATER, state=clean.new_state)
    assert set(again.codes) == {"root_not_logged", "metadata_rewritten"}, again.to_text()


def test_the_operator_is_told_to_renew_and_the_command_does(
    fed: Federation, tmp_path: Path
) -> None:
    env = {"CERTSEAL_FEDERATION_HOME": str(fed.home), "CERTSEAL_PASSPHRASE": PASSPHRASE}
    runner = CliRunner(env=env)
    soon = format_time(T0 + dt.timedelta(days=310))
    early = format_time(T0 + dt.timedelta(days=200))

    def run(*args: str, code: int = 0) -> tuple[str, str]:
        result = runner.invoke(main, ["federation", *args])
        assert result.exit_code == code, result.output
        return result.stdout, result.stderr

    out, err = run("--now", early, "refresh", "--targets")
    assert "Timestamp version" in out and err == ""
    out, err = run("--now", soon, "refresh", "--targets")
    assert "renew-root" in err and "(in 55 days)" in err and "根中繼資料" in err
    _, err = run("--now", soon, "list")
    assert "renew-root" in err
    _, err = run("--now", soon, "renew-root", "--key", "root-3", code=2)
    assert "needs 2 of the offline keys" in err
    assert not (fed.home / "repo" / metadata_path("root", 2)).exists()
    out, _ = run("--json", "--now", soon, "renew-root", "--key", "root-1", "--key", "root-3")
    renewed = json.loads(out)
    assert renewed["root_version"] == 2
    assert renewed["root_expires"] == format_time(T0 + dt.timedelta(days=310 + 365))
    out, err = run("--json", "--now", soon, "refresh")
    assert json.loads(out)["root_expires"] == renewed["root_expires"] and err == ""
    run("publish", "--out", str(tmp_path / "site"))
    assert (tmp_path / "site" / TRUST_DIR / metadata_path("root", 2)).exists()


def test_the_notice_starts_sixty_days_before() -> None:
    expires = T0 + dt.timedelta(days=365)
    assert root_notice(expires, expires - dt.timedelta(days=61)) is None
    en, zh = root_notice(expires, expires - dt.timedelta(days=60)) or ("", "")
    assert "in 60 days" in en and "renew-root" in en and "renew-root" in zh
    en, zh = root_notice(expires, expires) or ("", "")
    assert "expired" in en and "過期" in zh
