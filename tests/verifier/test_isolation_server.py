"""Under gunicorn (2 sync workers, as served): while a hostile file's parse holds the service's
only parse slot, a genuine document is answered and another unlisted file is told ``busy``.

The parse is held by freezing its child process (SIGSTOP) as soon as the slot is taken, so the
order of events is fixed by the test, not by how fast the machine is. The worker then kills the
frozen child past ``time_limit_seconds`` and the service reads the next unlisted file with a
fresh one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.hostile_files import worst_hostile_pdf
from tests.conftest import Issued
from tests.verifier import hostile
from tests.verifier.conftest import verifier_config
from tests.verifier.test_api import post


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _slot_taken(slot: Path) -> bool:
    if not slot.exists():
        return False
    fd = os.open(slot, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _parse_children(master: int) -> list[int]:
    """The verifier.isolation processes whose parent is one of gunicorn's workers."""
    stat: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError, IndexError):
                continue
    workers = {pid for pid, ppid in stat.items() if ppid == master}
    out = []
    for pid, ppid in stat.items():
        if ppid in workers:
            try:
                if b"verifier.isolation" in (Path("/proc") / str(pid) / "cmdline").read_bytes():
                    out.append(pid)
            except OSError:
                continue
    return out


def _waiting_for_a_job(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "wchan").read_text().endswith("pipe_read")
    except OSError:
        return False


def test_genuine_answered_while_a_hostile_parse_holds_the_slot(
    issued: Issued, tmp_path: Path
) -> None:
    port = _free_port()
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path, time_limit_seconds=3)))
    env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "verifier.app:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: its own parse slots
    )
    slot = Path(tempfile.gettempdir()) / f"certseal-verifier-{os.getuid()}-{server.pid}" / "slot-0"
    frozen: list[int] = []
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # Each worker starts a parse process; wait until both are ready (blocked reading their
        # first job), so that freezing one holds a parse, not its start.
        for _ in range(600):
            children = _parse_children(server.pid)
            if len(children) == 2 and all(_waiting_for_a_job(pid) for pid in children):
                break
            time.sleep(0.1)
        answers: dict[str, tuple[int, dict[str, Any]]] = {}
        attack = threading.Thread(
            target=lambda: answers.update(hostile=post(url + "/api/v1/verify", worst_hostile_pdf()))
        )
        attack.start()
        for _ in range(3000):
            if _slot_taken(slot):
                break
            time.sleep(0.01)
        assert _slot_taken(slot), "the hostile file's parse never took the slot"
        frozen = _parse_children(server.pid)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        genuine = post(url + "/api/v1/verify", issued.pdf("genuine"))
        other = post(url + "/api/v1/verify", hostile.truncated(issued.pdf("genuine")))
        still_held = _slot_taken(slot)
        attack.join(timeout=60)
        assert still_held  # both answers came while the hostile parse was in progress
        assert genuine[0] == 200 and genuine[1]["result"] == "success"
        assert other[0] == 503 and [r["code"] for r in other[1]["reasons"]] == ["busy"]
        status, body = answers["hostile"]
        assert status == 200 and [r["code"] for r in body["reasons"]] == ["malformed_pdf"]
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        # The killed child was replaced: the next unlisted file is read in full.
        again = post(
            url + "/api/v1/verify", hostile.byte_flipped_in_signed_range(issued.pdf("genuine"))
        )
        assert [r["code"] for r in again[1]["reasons"]] == ["signature_invalid", "not_issued"]
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=20)


def test_a_parse_process_whose_worker_is_gone_leaves_nothing_in_the_log() -> None:
    """A worker stopped (or replaced) before its parse process said it was ready: the process
    finds its answer pipe closed and ends without a traceback on the service's stderr."""
    child = subprocess.Popen(
        [sys.executable, "-m", "verifier.isolation", str(1 << 30)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None and child.stdin is not None
    child.stdout.close()  # the worker is gone: nobody reads the answers
    err = child.stderr.read()
    child.stdin.close()
    assert child.wait(timeout=60) != 0
    assert err == b"", err.decode(errors="replace")
