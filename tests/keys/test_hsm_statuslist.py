"""The status-list key on the HSM too (SoftHSM2 through PKCS#11): generated on the token by
``init --hsm-role statuslist``, never written to a file, and every publication (the signed
list, its log checkpoint, the key history, a renewed timestamp) signed through it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pkcs11
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, ObjectClass

from authority.config import DEMO_SCHOOL
from authority.hsm import HsmKey, HsmSettings, read_settings, session
from authority.keys import load_identity
from authority.rotation import rotate_key
from authority.service import Authority, init_authority
from certseal.errors import InputError
from certseal.statuslist import open_envelope
from certseal.timeutil import utcnow
from cli import main
from tests.conftest import ACTOR, PASSPHRASE, sample_bytes
from tests.keys.conftest import USER_PIN, Steps, check

H = dt.timedelta(hours=1)


def _cli_home(tmp_path: Path, softhsm: HsmSettings, *roles: str) -> Path:
    home = tmp_path / "home"
    runner = CliRunner(env={"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    args = ["authority", "init", "--demo", "--hsm-module", softhsm.module,
            "--hsm-token", softhsm.token_label]  # fmt: skip
    for role in roles:
        args += ["--hsm-role", role]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    with Authority(home) as auth:
        report, _ = auth.import_records(
            "graduates", sample_bytes("graduates.csv"), now=utcnow(), actor=ACTOR, source="g.csv"
        )
        assert not report.rejected
    return home


def test_the_status_list_key_is_generated_on_the_token_and_publishes(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    home = _cli_home(tmp_path, softhsm, "statuslist", "signing")
    keys = home / "keys"
    assert not (keys / "statuslist.key.pem").exists()
    assert not (keys / "signing.key.pem").exists()
    assert (keys / "root.key.pem").exists()  # the root stays offline, under the passphrase
    settings = read_settings(keys)
    assert settings is not None
    key_id = settings.key_id("statuslist")
    assert key_id is not None and key_id != settings.key_id("signing")
    identity = load_identity(keys, "statuslist", PASSPHRASE)
    assert isinstance(identity.key, HsmKey)
    on_token = session(settings, USER_PIN).get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
    assert on_token[Attribute.LOCAL] is True and on_token[Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        on_token[Attribute.VALUE]

    at = utcnow()
    steps = Steps(home, tmp_path / "site")
    doc = steps.issue(at)
    steps.publish(at + H)
    # The published timestamp opens with the status-list certificate's key, and only it.
    cert = x509.load_pem_x509_certificate((keys / "statuslist.pem").read_bytes())
    envelope = (steps.out / "status" / "timestamp.json").read_bytes()
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    signed = open_envelope(envelope, "timestamp", lambda _kid: public)
    assert signed["version"] == 1
    result = steps.verify(tmp_path, doc, at + H + dt.timedelta(minutes=1))
    assert result.result == "success", result.codes
    assert check(result, "transparency_log")[0] == "passed"  # the checkpoint, signed on the token
    # The routine renewal signs through the token as well.
    with Authority(home) as auth:
        auth.renew_timestamp(steps.out, PASSPHRASE, now=at + 2 * H)
    renewed = json.loads((steps.out / "status" / "timestamp.json").read_bytes())["signed"]
    assert renewed["version"] == 1 and renewed != json.loads(envelope)["signed"]
    assert steps.verify(tmp_path, doc, at + 2 * H + dt.timedelta(minutes=1)).result == "success"


def test_rotating_the_status_list_key_on_the_token(softhsm: HsmSettings, tmp_path: Path) -> None:
    """The new status-list key is generated on the token as well; lists signed with either
    key verify with both certificates pinned."""
    home = _cli_home(tmp_path, softhsm, "statuslist")
    keys = home / "keys"
    assert (keys / "signing.key.pem").exists()  # only the role asked for is on the token
    at = utcnow()
    steps = Steps(home, tmp_path / "site")
    doc = steps.issue(at)
    steps.publish(at + H)
    old_pin = tmp_path / "statuslist-old.pem"
    old_pin.write_bytes((keys / "statuslist.pem").read_bytes())
    with Authority(home) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "statuslist", PASSPHRASE, at + 2 * H)
    assert rot.on_hsm and not (keys / "statuslist.key.pem").exists()
    steps.publish(at + 3 * H)
    verifier = steps.verifier(tmp_path, [old_pin, keys / "statuslist.pem"])
    result = verifier.verify(steps.pdf(doc), at + 3 * H + dt.timedelta(minutes=1))
    assert result.result == "success", result.codes


def test_hsm_roles_are_checked(softhsm: HsmSettings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the HSM can hold the keys of signing, statuslist"):
        init_authority(
            tmp_path / "home", DEMO_SCHOOL, PASSPHRASE, utcnow(), hsm=softhsm, hsm_roles=("root",)
        )
    assert not (tmp_path / "home" / "keys").exists()
    runner = CliRunner(
        env={"CERTSEAL_HOME": str(tmp_path / "h2"), "CERTSEAL_PASSPHRASE": PASSPHRASE}
    )
    res = runner.invoke(main, ["authority", "init", "--demo", "--hsm-role", "statuslist"])
    assert res.exit_code != 0 and "--hsm-role needs --hsm-module" in res.output
