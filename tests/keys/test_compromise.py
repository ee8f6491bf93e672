"""Compromise: documents the status list and its log prove issued before the compromise
keep verifying; later ones fail with ``key_compromised``; the CRL and the CLI say so."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from authority.rotation import key_compromised
from authority.service import Authority
from certseal.errors import InputError
from cli import main
from tests.conftest import NOW, PASSPHRASE
from tests.keys.conftest import Steps, answers_after_compromise, check
from tests.keys.test_rotation import fingerprint, published_history

H = dt.timedelta(hours=1)


def test_issued_before_the_compromise_verifies_after_it_fails(home: Path, tmp_path: Path) -> None:
    steps = Steps(home, tmp_path / "site")
    proven = steps.issue(NOW)  # issued and logged (published) before the compromise
    steps.publish(NOW + H)
    unproven = steps.issue(NOW + 2 * H)  # issued before it, logged only after it
    since = NOW + 3 * H
    after = steps.issue(NOW + 4 * H)  # issued once the key was in other hands
    old_cert = fingerprint(home / "keys" / "signing.pem")
    old_serial = x509.load_pem_x509_certificate((home / "keys" / "signing.pem").read_bytes())
    with Authority(home) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=since,
            passphrase=PASSPHRASE, now=NOW + 5 * H,
        )  # fmt: skip
    assert done.rotation is not None  # the current key never signs again
    assert fingerprint(home / "keys" / "signing.pem") != old_cert
    assert done.affected == (unproven, after)  # what the registrar re-issues
    for bad in answers_after_compromise(steps, tmp_path, proven, (unproven, after)):
        assert check(bad, "trust_list") == ("failed", "school_key_problem")
        text = bad.to_dict("en")["reasons"][0]["message"]
        assert "reported compromised on" in text and "Ask the school for a new document" in text

    record = published_history(steps.out).record(old_cert)
    assert record is not None and record.revoked_at == since
    assert record.reason == "key_compromise" and record.valid_to == NOW + 5 * H
    crl = x509.load_der_x509_crl((steps.out / "certs" / "root.crl").read_bytes())
    revoked = crl.get_revoked_certificate_by_serial_number(old_serial.serial_number)
    assert revoked is not None and revoked.revocation_date_utc == since
    reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise


def test_reissued_document_replaces_a_compromised_one(home: Path, tmp_path: Path) -> None:
    """The runbook's last step: the affected document re-issued (with the new key)."""
    steps = Steps(home, tmp_path / "site")
    doc = steps.issue(NOW + H)
    with Authority(home) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=NOW,
            passphrase=PASSPHRASE, now=NOW + 2 * H,
        )  # fmt: skip
        assert done.affected == (doc,)
        from authority.production import Producer

        new = auth.reissue(doc, now=NOW + 3 * H, actor="registrar",
                           produce=Producer(auth.keys_dir, PASSPHRASE))  # fmt: skip
    steps.publish(NOW + 4 * H)
    at = NOW + 4 * H + dt.timedelta(minutes=1)
    assert steps.verify(tmp_path, new.doc_id, at).result == "success"
    old = steps.verify(tmp_path, doc, at)
    assert "key_compromised" in old.codes and "superseded" in old.codes


def test_compromise_refusals_are_specific(home: Path) -> None:
    with Authority(home) as auth:
        args = dict(role="signing", passphrase=PASSPHRASE, now=NOW)
        with pytest.raises(InputError, match="--since is in the future"):
            key_compromised(auth.keys_dir, auth.school, auth.registry, since=NOW + H, **args)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="--since is before the key was started"):
            key_compromised(
                auth.keys_dir,
                auth.school,
                auth.registry,
                since=NOW - 90 * 24 * H,
                **args,  # type: ignore[arg-type]
            )
        with pytest.raises(InputError, match="no signing certificate 00000000"):
            key_compromised(
                auth.keys_dir, auth.school, auth.registry, since=NOW - H,
                cert_sha256="0" * 64, **args,  # type: ignore[arg-type]
            )  # fmt: skip


def test_cli_rotate_and_compromise(home: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    now = ["--now", (NOW + H).strftime("%Y-%m-%dT%H:%M:%SZ")]
    res = runner.invoke(main, ["authority", *now, "rotate-key", "--role", "signing"])
    assert res.exit_code == 0, res.output
    assert "Run 'certseal authority publish' next" in res.output
    later = ["--now", (NOW + 2 * H).strftime("%Y-%m-%dT%H:%M:%SZ")]
    res = runner.invoke(main, ["authority", *later, "--json", "key-compromised",
                               "--since", (NOW + H).strftime("%Y-%m-%dT%H:%M:%SZ")])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["key"]["reason"] == "key_compromise" and out["affected"] == []
    res = runner.invoke(main, ["authority", *later, "key-compromised", "--since", "tomorrow"])
    assert res.exit_code == 2
    assert "--since must be a date (YYYY-MM-DD) or an ISO time, not 'tomorrow'" in res.output
    # A published revocation does not change: the retired key, compromised again, is refused.
    retired = out["key"]["cert_sha256"]
    res = runner.invoke(main, ["authority", *later, "key-compromised", "--since",
                               NOW.strftime("%Y-%m-%d"), "--cert", retired])  # fmt: skip
    assert res.exit_code == 2 and "was already revoked on" in res.output
