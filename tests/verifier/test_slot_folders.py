"""The parse-slot folders under the temp folder (verifier/isolation.py): removed when the service
stops, and after a crash when the next one starts, never while in use. Real processes, each in a
process group of its own, as gunicorn runs; every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from verifier.isolation import sweep_stale

TMP = Path(tempfile.gettempdir())
# Holds the default slots folder as a verifier's process does, says where, waits for its input
# to close, exits normally.
HOLDER = (
    "import sys\n"
    "from verifier.isolation import IsolatedParser, Isolation\n"
    "from verifier.pdfcheck import StructureLimits\n"
    "parser = IsolatedParser(Isolation(), StructureLimits())\n"
    "print(parser.slots.folder, flush=True)\n"
    "sys.stdin.read()\n"
)
# An older verifier: its slot folder, but no hold on it.
LEGACY = "import sys, time\nprint('ready', flush=True)\nsys.stdin.read()\n"


def folder_of(group: int) -> Path:
    return TMP / f"certseal-verifier-{os.getuid()}-{group}"


def start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a gunicorn master
    )


def dead_group() -> int:
    """The id of a process group that has ended."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    gone.wait()
    return gone.pid


def stale_folder(group: int) -> Path:
    folder = folder_of(group)
    folder.mkdir(mode=0o700)
    for i in range(2):
        (folder / f"slot-{i}").touch()
    return folder


def test_a_service_that_stops_leaves_no_folder() -> None:
    holder = start(HOLDER)
    assert holder.stdout is not None and holder.stdin is not None
    folder = Path(holder.stdout.readline().strip())
    assert folder == folder_of(holder.pid) and folder.is_dir()
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert not folder.exists()


def test_a_crashed_services_folder_goes_when_the_next_starts_and_one_in_use_stays() -> None:
    crashed = stale_folder(dead_group())
    running = start(HOLDER)
    legacy = start(LEGACY)
    assert running.stdout is not None and legacy.stdout is not None
    in_use = Path(running.stdout.readline().strip())  # its start swept
    assert legacy.stdout.readline() == "ready\n"
    unheld = stale_folder(legacy.pid)  # a running group that takes no hold
    try:
        assert not crashed.exists()
        assert in_use.is_dir() and unheld.is_dir()
        removed = sweep_stale()
        assert in_use not in removed and unheld not in removed
        assert in_use.is_dir() and unheld.is_dir()
    finally:
        for p in (running, legacy):
            p.kill()  # as a crash: no exit handlers
            p.wait(timeout=60)
    # Both are gone now: the next start removes their folders.
    removed = sweep_stale()
    assert {in_use, unheld} <= set(removed)
    assert not in_use.exists() and not unheld.exists()


def test_a_folder_with_anything_else_in_it_is_left(tmp_path: Path) -> None:
    folder = stale_folder(dead_group())
    (folder / "notes.txt").write_text("not a slot")
    try:
        assert folder not in sweep_stale()
        assert (folder / "notes.txt").read_text() == "not a slot"
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def test_gunicorns_folder_goes_with_it(issued: Issued, tmp_path: Path) -> None:
    """Two workers hold the master's folder; it is removed by the last to stop, and one left by
    a SIGKILLed gunicorn is removed when the next gunicorn starts."""
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path)))
    env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)}

    def serve() -> tuple[subprocess.Popen[bytes], Path]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        control = str(tmp_path / f"{port}.ctl")
        argv = [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        server = subprocess.Popen(
            [*argv, "--control-socket", control, "verifier.app:create_app()"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        folder = folder_of(server.pid)
        for _ in range(300):  # both workers up: each holds the folder
            if _holders(folder) == 2:
                break
            time.sleep(0.1)
        assert _holders(folder) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
            assert r.status == 200
        return server, folder

    server, folder = serve()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert not folder.exists()

    killed, left = serve()
    os.killpg(killed.pid, signal.SIGKILL)  # master and workers, no exit handlers
    killed.wait(timeout=60)
    for _ in range(300):  # until the workers, orphaned, are reaped: the group has ended
        try:
            os.killpg(killed.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    assert left.is_dir()
    server, folder = serve()
    try:
        assert not left.exists()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert not folder.exists()


def _holders(folder: Path) -> int:
    """Processes holding the folder: the shared locks on its .in-use file, from /proc/locks."""
    try:
        inode = (folder / ".in-use").stat().st_ino
    except OSError:
        return 0
    locks = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in locks if f":{inode} " in line and " FLOCK " in line)
