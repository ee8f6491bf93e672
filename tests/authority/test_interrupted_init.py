"""``certseal authority init`` killed before it finished, and run twice at once: the home is
never left where ``init`` says "already set up" and every other command says "run init"."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from authority.config import DEMO_SCHOOL
from authority.production import Producer
from authority.service import INTERRUPTED_INIT, Authority, IssueRequest, init_authority
from certseal.errors import AuthorityBusyError, ConfigurationError
from cli import main
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE
from tests.killed import KILLED_CLI

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("before", ["config.json", "root.crl"])
def test_an_init_killed_before_it_finished_is_set_aside_and_run_again(
    tmp_path: Path, before: str
) -> None:
    home = tmp_path / "home"
    env = {"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_CLI, "authority", "init", "--demo"],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        env={**os.environ, **env, "KILL_BEFORE": before},
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr)
    runner = CliRunner(env=env)
    half = runner.invoke(main, ["authority", "list"])
    assert half.exit_code == 3 and "init was interrupted" in half.output
    again = runner.invoke(main, ["authority", "init", "--demo"])
    assert again.exit_code == 0, again.output
    listed = runner.invoke(main, ["authority", "list"])
    assert listed.exit_code == 0 and "No documents issued yet." in listed.output
    if before == "config.json":  # the keys the killed init made are kept, not deleted
        assert (home / "interrupted" / "init-1" / "keys" / "root.pem").exists()


def test_init_waits_for_no_one_and_says_another_command_holds_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with open(home / "lock", "ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(AuthorityBusyError, match="another certseal command"):
            init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW)
    assert not (home / "keys").exists()
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW)
    with Authority(home):
        pass


def test_a_registry_with_documents_is_never_set_aside(home: Path) -> None:
    """A lost config.json is not an interrupted init: the registrar is told to restore it."""
    with Authority(home) as auth:
        student = auth.registry.student_ids()[0]
        auth.record_collection(student, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        produce = Producer(auth.keys_dir, PASSPHRASE)
        report = auth.issue([IssueRequest("diploma_zh", student)], now=NOW, actor=ACTOR,
                            produce=produce)  # fmt: skip
        assert len(report.issued) == 1
    (home / "config.json").rename(home / "config.json.bak")
    with pytest.raises(ConfigurationError, match=r"restore config\.json"):
        init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW)
    assert not (home / INTERRUPTED_INIT).parent.exists()
    (home / "config.json.bak").rename(home / "config.json")
    with Authority(home) as auth:
        assert auth.registry.document(report.issued[0].doc_id).sha256 == report.issued[0].sha256
