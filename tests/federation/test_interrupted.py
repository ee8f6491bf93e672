"""The operator's commands killed (SIGKILL) at awkward moments, and run at once.

A real ``certseal federation set-state`` process is killed halfway through writing a change; the
operator then publishes (the runbook's next step), makes another change and publishes again.
Readers must never see the half-made change, the next change must not be refused by what it
left, and the trust-list auditor must find the published history clean throughout.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.trustlist import TrustAuditState, audit_trust_list
from certseal.errors import AuthorityBusyError
from certseal.fetch import published_fetcher
from certseal.timeutil import format_time
from certseal.trustlist import TRUST_DIR, TrustListClient, metadata_path
from cli import main
from federation.operator import INTERRUPTED, JOURNAL, Operator, init_operator
from tests.conftest import PASSPHRASE
from tests.federation.conftest import T0, Federation
from tests.killed import KILLED_CLI

ROOT = Path(__file__).parents[2]
M = dt.timedelta(minutes=1)
T1, T2, T3 = T0 + 240 * M, T0 + 250 * M, T0 + 260 * M


def killed(home: Path, before: str, *args: str) -> None:
    """Run ``certseal federation ARGS`` in a child killed just before ``before`` is written."""
    env = {
        **os.environ,
        "CERTSEAL_FEDERATION_HOME": str(home),
        "CERTSEAL_PASSPHRASE": PASSPHRASE,
        "KILL_BEFORE": before,
    }
    done = subprocess.run(
        [sys.executable, "-c", KILLED_CLI, "federation", *args],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)


class Site:
    """The operator's CLI, its published folder, and an auditor that remembers."""

    def __init__(self, home: Path, out: Path) -> None:
        self.home, self.out = home, out
        env = {"CERTSEAL_FEDERATION_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE}
        self.runner = CliRunner(env=env)
        self.audit_state: TrustAuditState | None = None

    def run(self, *args: str) -> str:
        result = self.runner.invoke(main, ["federation", *args])
        assert result.exit_code == 0, result.output
        return result.output

    def publish(self) -> None:
        self.run("publish", "--out", str(self.out))

    def audit(self, at: dt.datetime) -> None:
        """What an outside auditor (and so every verifier) reads is whole and consistent."""
        root = (self.home / "repo" / metadata_path("root", 1)).read_bytes()
        report = audit_trust_list(
            str(self.out / TRUST_DIR), root, reference_time=at, state=self.audit_state
        )
        assert not report.violations, report.to_text()
        self.audit_state = report.new_state

    def states(self, at: dt.datetime) -> dict[str, str]:
        listed = json.loads(self.run("--json", "--now", format_time(at), "list"))
        return {s["id"]: s["lifecycle"][-1]["state"] for s in listed}


@pytest.mark.parametrize(
    "before",
    [
        "repo/metadata/2.schools-7.json",  # NTHU's group re-signed, nothing else yet
        "repo/log/checkpoint",  # the log's leaf, tiles and checkpoint written
        "repo/metadata/6.snapshot.json",  # the log done, the snapshot signed
        "state.json",  # everything but the commit point
    ],
)
def test_a_change_killed_before_its_commit_point_is_undone(
    federation: Federation, tmp_path: Path, before: str
) -> None:
    site = Site(federation.home, tmp_path / "out")
    site.run("--now", format_time(T1), "refresh")
    site.publish()
    site.audit(T1)
    killed(federation.home, before, "--now", format_time(T2), "set-state", "NTHU", "suspended")
    assert (federation.home / JOURNAL).exists()
    site.publish()  # what the half-made change wrote is not published
    site.audit(T2)
    assert site.states(T2)["NTHU"] == "active"
    # The next changes are not refused by its leftovers, and what they publish is consistent.
    site.run("--now", format_time(T3), "set-state", "NTCU", "suspended")
    site.run("--now", format_time(T3 + M), "set-state", "NTHU", "suspended")
    site.publish()
    site.audit(T3 + M)
    assert site.states(T3 + M) == {"NKUST": "active", "NTHU": "suspended", "NTCU": "suspended"}
    assert not (federation.home / JOURNAL).exists()
    # The leftovers are kept for a person to look at, never deleted.
    kept = federation.home / INTERRUPTED / "commit-1"
    assert (kept / JOURNAL).exists() and any(kept.glob("*/*"))


def test_a_change_killed_after_its_commit_point_is_finished(
    federation: Federation, tmp_path: Path
) -> None:
    site = Site(federation.home, tmp_path / "out")
    site.run("--now", format_time(T1), "refresh")
    site.publish()
    site.audit(T1)
    timestamp = "repo/" + metadata_path("timestamp")
    killed(federation.home, timestamp, "--now", format_time(T2), "set-state", "NTHU", "suspended")
    site.publish()
    site.audit(T2)
    assert site.states(T2)["NTHU"] == "suspended"  # committed: it stands
    again = site.runner.invoke(
        main, ["federation", "--now", format_time(T3), "set-state", "NTHU", "suspended"]
    )
    assert again.exit_code != 0 and "already suspended" in again.output
    site.run("--now", format_time(T3), "set-state", "NTCU", "suspended")
    site.publish()
    site.audit(T3)
    # Only the cut-short write's temporary file was left over, and it is kept aside.
    kept = [p for p in (federation.home / INTERRUPTED).rglob("*") if p.is_file()]
    assert [p.name.startswith(".timestamp.json.") for p in kept] == [True]


@pytest.mark.parametrize("before", ["config.json", "repo/metadata/1.snapshot.json", "state.json"])
def test_an_interrupted_init_is_set_aside_and_run_again(tmp_path: Path, before: str) -> None:
    home = tmp_path / "operator"
    origin = ["init", "--origin", "trust.example.tw/trust/log"]
    killed(home, before, "--now", format_time(T0), *origin)
    site = Site(home, tmp_path / "out")
    half = site.runner.invoke(main, ["federation", "--now", format_time(T1), "list"])
    assert half.exit_code != 0 and "init was interrupted" in half.output
    assert "Traceback" not in half.output
    site.run("--now", format_time(T1), *origin)
    assert site.states(T1) == {}
    site.publish()
    root = (home / "repo" / metadata_path("root", 1)).read_bytes()
    reader = TrustListClient(published_fetcher(str(site.out), TRUST_DIR), root)
    assert reader.refresh(T1).schools == {}
    assert (home / INTERRUPTED / "init-1" / "keys").is_dir()


def test_init_while_another_command_holds_the_home_says_so(tmp_path: Path) -> None:
    home = tmp_path / "operator"
    home.mkdir()
    with open(home / "lock", "ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(AuthorityBusyError, match="another certseal command"):
            init_operator(home, "trust.example.tw/trust/log", PASSPHRASE, T0)
    assert not (home / "keys").exists()
    init_operator(home, "trust.example.tw/trust/log", PASSPHRASE, T0)
    with Operator(home) as op, pytest.raises(AuthorityBusyError):
        Operator(home)
    assert op.state().snapshot == 1
