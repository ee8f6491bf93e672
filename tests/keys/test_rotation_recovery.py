"""An interrupted ``rotate-key``: a process SIGKILLed at each awkward moment leaves
``keys/.<role>.new``; the next run decides from the key history (the one durable record)
whether to discard the folder or finish the swap, says which, and never loses a recorded key."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from authority.hsm import HsmSettings, read_settings
from authority.keys import load_identity
from authority.rotation import HISTORY_DIR, key_compromised, load_history, recover, rotate_key
from authority.service import Authority
from certseal.errors import InputError
from cli import main
from tests.conftest import NOW, PASSPHRASE
from tests.keys.conftest import Steps
from tests.keys.test_hsm import hsm_authority
from tests.keys.test_rotation import fingerprint

H = dt.timedelta(hours=1)
ROOT = Path(__file__).parents[2]

# A child that rotates and kills itself (SIGKILL: no clean-up runs) when it reaches ``point``:
# ``record`` just before the history is written, ``finish`` just after, ``move:N`` at the N-th
# file move of the swap.
KILLED_ROTATION = """
import datetime as dt, os, signal, sys
from pathlib import Path
import authority.rotation as rotation
from authority.service import Authority
from certseal.timeutil import parse_time

home, role, at, point = Path(sys.argv[1]), sys.argv[2], parse_time(sys.argv[3]), sys.argv[4]
kind, _, n = point.partition(":")

def die(real):
    count = [0]
    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] >= int(n or 1):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return wrapper

if kind == "record":
    rotation._record = die(rotation._record)
elif kind == "finish":
    rotation._finish = die(rotation._finish)
else:
    rotation._move = die(rotation._move)
with Authority(home) as auth:
    if sys.argv[5:] == ["compromised"]:
        rotation.key_compromised(
            auth.keys_dir, auth.school, auth.registry, role=role, since=at - dt.timedelta(hours=1),
            passphrase=os.environ["CERTSEAL_PASSPHRASE"], now=at,
        )
    else:
        rotation.rotate_key(auth.keys_dir, auth.school, role, os.environ["CERTSEAL_PASSPHRASE"], at)
print("not killed")
"""


def killed_rotation(home: Path, role: str, at: dt.datetime, point: str, *extra: str) -> None:
    """Run a rotation in a child process that is SIGKILLed at ``point``."""
    from certseal.timeutil import format_time

    done = subprocess.run(
        [sys.executable, "-c", KILLED_ROTATION, str(home), role, format_time(at), point, *extra],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "CERTSEAL_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
    assert (home / "keys" / f".{role}.new").is_dir()


def history_versions(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "keys" / HISTORY_DIR).glob("*.json"))


def test_killed_before_the_history_is_recorded_the_rerun_discards_and_rotates(
    home: Path, tmp_path: Path
) -> None:
    steps = Steps(home, tmp_path / "site")
    steps.issue(NOW)
    steps.publish(NOW + H)
    old = fingerprint(home / "keys" / "signing.pem")
    before = history_versions(home)
    killed_rotation(home, "signing", NOW + 2 * H, "record")
    # Nothing recorded: the old key is still the authority's, whole.
    assert history_versions(home) == before
    assert fingerprint(home / "keys" / "signing.pem") == old
    load_identity(home / "keys", "signing", PASSPHRASE)

    with Authority(home) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW + 3 * H)
    assert rot.recovered is not None and not rot.recovered.finished
    en, zh = rot.recovered.message
    assert "was discarded: nothing had been recorded" in en and "已捨棄" in zh
    assert not (home / "keys" / ".signing.new").exists()
    assert rot.old.cert_sha256 == old and rot.new.cert_sha256 != old
    assert fingerprint(home / "keys" / "signing.pem") == rot.new.cert_sha256
    # The rotation that counts is this one, from the re-run's time.
    assert rot.new.valid_from == NOW + 3 * H
    load_identity(home / "keys", "signing", PASSPHRASE)


@pytest.mark.parametrize("point", ["finish", "move:1", "move:2", "move:3"])
def test_killed_after_the_history_is_recorded_the_rerun_finishes_it(
    home: Path, tmp_path: Path, point: str
) -> None:
    """The history already lists the new certificate: it is the key from then on, so the
    re-run finishes the swap (no second rotation) and documents issued next carry it."""
    steps = Steps(home, tmp_path / "site")
    old_doc = steps.issue(NOW)
    steps.publish(NOW + H)
    old = fingerprint(home / "keys" / "signing.pem")
    killed_rotation(home, "signing", NOW + 2 * H, point)
    with Authority(home) as auth:
        recorded = load_history(auth.keys_dir, auth.school, NOW + 3 * H)
    new = [r for r in recorded.records if r.role == "signing" and r.cert_sha256 != old]
    assert len(new) == 1  # recorded before the kill

    runner = CliRunner(env={"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    res = runner.invoke(main, ["authority", "rotate-key", "--role", "signing"])
    assert res.exit_code == 0, res.output
    assert "An interrupted rotation of the signing key was finished" in res.output
    assert not (home / "keys" / ".signing.new").exists()
    assert fingerprint(home / "keys" / "signing.pem") == new[0].cert_sha256
    retired = home / "keys" / "retired" / f"signing.{old[:16]}"
    assert fingerprint(Path(f"{retired}.pem")) == old
    assert Path(f"{retired}.key.pem").exists()  # the old key is kept, never deleted
    with Authority(home) as auth:
        after = load_history(auth.keys_dir, auth.school, NOW + 3 * H)
    assert after.version == recorded.version  # finished, not rotated a second time
    load_identity(home / "keys", "signing", PASSPHRASE)

    fresh = steps.issue(NOW + 4 * H)
    steps.publish(NOW + 5 * H)
    at = NOW + 5 * H + dt.timedelta(minutes=1)
    for doc in (old_doc, fresh):
        assert steps.verify(tmp_path, doc, at).result == "success"


def test_a_folder_cut_short_while_staged_is_discarded(home: Path) -> None:
    """A crash while the staged certificate was written: half a PEM, never recorded."""
    staged = home / "keys" / ".statuslist.new"
    staged.mkdir()
    (staged / "previous.sha256").write_text(fingerprint(home / "keys" / "statuslist.pem"))
    (staged / "statuslist.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB")
    with Authority(home) as auth:
        done = recover(auth.keys_dir, auth.school, "statuslist", NOW)
        assert done is not None and not done.finished and done.cert_sha256 is None
        assert not staged.exists()
        assert recover(auth.keys_dir, auth.school, "statuslist", NOW) is None


def test_an_interrupted_compromise_is_completed_once(home: Path, tmp_path: Path) -> None:
    """key-compromised cut short after recording: the re-run completes that compromise and
    never declares the new key compromised too."""
    steps = Steps(home, tmp_path / "site")
    steps.issue(NOW)
    steps.publish(NOW + H)
    old = fingerprint(home / "keys" / "signing.pem")
    killed_rotation(home, "signing", NOW + 3 * H, "move:2", "compromised")
    with Authority(home) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=NOW + 2 * H,
            passphrase=PASSPHRASE, now=NOW + 4 * H,
        )  # fmt: skip
        assert done.recovered is not None and done.recovered.finished
        assert done.key.cert_sha256 == old and done.key.revoked_at == NOW + 2 * H
        history = load_history(auth.keys_dir, auth.school, NOW + 4 * H)
        current = fingerprint(home / "keys" / "signing.pem")
        record = history.record(current)
        assert record is not None and record.revoked_at is None
    # An interrupted plain rotation is no compromise: the re-run does not guess the key.
    killed_rotation(home, "signing", NOW + 5 * H, "finish")
    with Authority(home) as auth:
        with pytest.raises(InputError, match="give it with --cert"):
            key_compromised(
                auth.keys_dir, auth.school, auth.registry, role="signing", since=NOW + 5 * H,
                passphrase=PASSPHRASE, now=NOW + 6 * H,
            )  # fmt: skip
        assert fingerprint(home / "keys" / "signing.pem") != current  # the swap was finished


def test_an_interrupted_rotation_on_the_hsm_is_finished(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    """On the HSM the new key id lives in the staged settings: finishing installs them, and
    the retired settings keep the old key's id."""
    home = tmp_path / "home"
    hsm_authority(home, softhsm)
    keys = home / "keys"
    before = read_settings(keys)
    assert before is not None
    killed_rotation(home, "signing", NOW + 2 * H, "move:1")
    with Authority(home) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW + 3 * H)
    assert rot.recovered is not None and rot.recovered.finished and rot.on_hsm
    after = read_settings(keys)
    assert after is not None and after.key_id("signing") != before.key_id("signing")
    stem = f"signing.{rot.old.cert_sha256[:16]}"
    kept = read_settings_file(keys / "retired" / f"{stem}.hsm.json")
    assert kept.key_id("signing") == before.key_id("signing")
    identity = load_identity(keys, "signing", PASSPHRASE)  # the token's key matches the cert
    assert fingerprint(keys / "signing.pem") == rot.new.cert_sha256
    assert identity.cert.public_key() == identity.key.public_key()


def read_settings_file(path: Path) -> HsmSettings:
    import json

    return HsmSettings.from_dict(json.loads(path.read_text()))
