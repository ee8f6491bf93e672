"""Key-lifecycle fixtures: a SoftHSM2 token initialised in a temporary folder, and an
authority whose issuance, publication and verification the tests drive step by step.

SoftHSM2 reads its configuration once per process (at ``C_Initialize``), so the token folder
is one per test session; each test that needs a key generates its own on it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from authority.hsm import PIN_ENV, HsmSettings
from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE
from verifier.counter import Counter
from verifier.engine import Limits, Verifier, build_verifier
from verifier.result import Verification
from verifier.status import IssuerTrust

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "certseal-test"
USER_PIN = "test-user-pin-1234"  # a generated test token's PIN, not a secret


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsmSettings]:
    """A fresh SoftHSM2 token (its folder under pytest's temporary folder) and its settings;
    the PIN is in the environment, as the authority reads it."""
    if not Path(SOFTHSM_MODULE).exists() or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is missing: run scripts/setup.sh (Debian package softhsm2)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        mp.setenv(PIN_ENV, USER_PIN)
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
             "--so-pin", "so-pin-12345678", "--pin", USER_PIN],
            check=True, capture_output=True,
        )  # fmt: skip
        yield HsmSettings(SOFTHSM_MODULE, TOKEN)


@dataclass
class Steps:
    """One authority's life, driven by the test: issue, publish, verify at given times."""

    home: Path
    out: Path

    def issue(self, at: dt.datetime, doc_type: str = "diploma_zh") -> str:
        with Authority(self.home) as auth:
            taken = {d.student_id for d in auth.registry.documents()}
            sid = next(s for s in auth.registry.student_ids() if s not in taken)
            auth.record_collection(sid, COLLECTED, doc_type=doc_type, now=at, actor=ACTOR)
            produce = Producer(auth.keys_dir, PASSPHRASE)
            report = auth.issue([IssueRequest(doc_type, sid)], now=at, actor=ACTOR,
                                produce=produce)  # fmt: skip
            assert not report.failed, report.failed
            return report.issued[0].doc_id

    def pdf(self, doc_id: str) -> bytes:
        with Authority(self.home) as auth:
            return (self.home / auth.registry.document(doc_id).path).read_bytes()

    def publish(self, at: dt.datetime) -> None:
        with Authority(self.home) as auth:
            auth.publish(self.out, PASSPHRASE, now=at, actor=ACTOR)

    def verifier(self, tmp: Path, status_certs: list[Path] | None = None) -> Verifier:
        keys = self.home / "keys"
        trust = IssuerTrust.from_files(
            "demo", [keys / "root.pem"], status_certs or [keys / "statuslist.pem"], str(self.out)
        )
        return build_verifier([trust], Counter(tmp / "counts.sqlite"), Limits())

    def verify(self, tmp: Path, doc_id: str, at: dt.datetime) -> Verification:
        return self.verifier(tmp).verify(self.pdf(doc_id), at)


def check(result: Verification, name: str) -> tuple[str, str]:
    found = [c for c in result.checks if c.name == name]
    assert len(found) == 1, [c.name for c in result.checks]
    return found[0].status, found[0].detail


def answers_after_compromise(
    steps: Steps, tmp: Path, proven: str, failing: tuple[str, ...]
) -> list[Verification]:
    """After a compromise recorded at NOW + 5 h: a document issued (NOW + 6 h) and published
    (NOW + 7 h) with the successor key succeeds, as does ``proven`` (logged before the
    compromise); each of ``failing`` fails as ``key_compromised``, and its answer is returned."""
    fresh = steps.issue(NOW + dt.timedelta(hours=6))
    steps.publish(NOW + dt.timedelta(hours=7))
    at = NOW + dt.timedelta(hours=7, minutes=1)
    ok = steps.verify(tmp, proven, at)
    assert ok.result == "success", ok.codes
    assert check(ok, "trust_list") == ("passed", "school_key_logged")
    answers = [steps.verify(tmp, doc, at) for doc in failing]
    for bad in answers:
        assert bad.result == "failure"
        assert bad.codes == ("key_compromised",)
    assert steps.verify(tmp, fresh, at).result == "success"
    return answers
