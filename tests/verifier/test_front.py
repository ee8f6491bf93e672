"""The deployment: real nginx before real gunicorn (``verifier.front``), real slow and malformed
clients on 127.0.0.1. Every wait is bounded by a socket timeout; nothing asserts a duration."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.hostile_files import worst_hostile_pdf
from certseal.errors import ConfigurationError
from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from tests.verifier.test_api import post_raw
from tests.verifier.test_isolation_server import (
    _parse_children,
    _slot_taken,
    _waiting_for_a_job,
)
from verifier.front import THREADS, FrontConfig, Served, find_program
from verifier.isolation import Isolation

NGINX = find_program("nginx")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is installed by scripts/setup.sh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    issued: Issued, base: Path, verifier: dict[str, object] | None = None, **front: object
) -> Served:
    """nginx + gunicorn (2 workers) over the session's published folder, as the demo runs them;
    ``verifier``: more of the verifier's own settings."""
    base.mkdir(parents=True, exist_ok=True)
    cfg_file = base / "verifier.json"
    cfg_file.write_text(json.dumps(verifier_config(issued, base, **(verifier or {}))))
    home = base / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "CERTSEAL_VERIFIER_CONFIG": str(cfg_file),
        "HOME": str(home),  # where gunicorn would put a shared control socket
    }
    env.pop("XDG_RUNTIME_DIR", None)
    assert NGINX is not None
    cfg = FrontConfig(
        run_dir=base / "run",
        listen=f"127.0.0.1:{free_port()}",
        site_dir=issued.published,
        **front,  # type: ignore[arg-type]
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return Served(cfg, nginx=NGINX, gunicorn=gunicorn, env=env, output=None)


@pytest.fixture(scope="module")
def served(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with start(issued, tmp_path_factory.mktemp("front"), body_timeout=3, header_timeout=3) as s:
        yield s


def raw(served: Served, request: bytes, *, timeout: float = 20) -> bytes:
    with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=timeout) as s:
        s.sendall(request)
        return read_all(s)


def read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def read_answer(s: socket.socket) -> bytes:
    """One whole answer, by its Content-Length: nginx may send the headers and the page in
    separate segments, and reset the connection after it when the request's body was not read."""
    out = b""
    while b"\r\n\r\n" not in out or len(out) < _answer_end(out):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def _answer_end(data: bytes) -> int:
    top, _, _ = data.partition(b"\r\n\r\n")
    for line in top.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(top) + 4 + int(value)
    return len(data) + 1  # no length: until the connection ends


def head(served: Served, length: int, ctype: str = "application/pdf", extra: str = "") -> bytes:
    return (
        f"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


def answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def access_log(served: Served) -> list[str]:
    return (served.cfg.run_dir / "access.log").read_text().splitlines()


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_genuine_through_the_front(served: Served, issued: Issued, kind: str) -> None:
    pdf = issued.pdf("successor")
    if kind == "raw":
        request = head(served, len(pdf)) + pdf
    else:
        b = "frontb0undary"
        body = (
            (
                f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n\r\n'
            ).encode()
            + pdf
            + f"\r\n--{b}--\r\n".encode()
        )
        request = head(served, len(body), f"multipart/form-data; boundary={b}") + body
    status, headers, body = answer(raw(served, request))
    assert status == 200 and json.loads(body)["result"] == "success"
    assert headers["Cache-Control"] == "no-store"


def test_slow_uploads_hold_no_worker(served: Served, issued: Issued) -> None:
    """Six clients (three times the workers) trickle their uploads; a normal upload is answered
    while every one of them is still connected and still sending."""
    pdf = issued.pdf("genuine")
    # Six clients, each from its own loopback address (one address may upload only a few at once).
    slow = [
        socket.create_connection(("127.0.0.1", served.cfg.port), 20, (f"127.0.1.{i + 1}", 0))
        for i in range(6)
    ]
    try:
        for s in slow:
            s.sendall(head(served, len(pdf)) + pdf[:10])
        for i in range(2):  # every client sends again, inside the body timeout
            for s in slow:
                s.sendall(pdf[10 + i : 11 + i])
        status, _, body = answer(raw(served, head(served, len(pdf)) + pdf))
        assert status == 200 and json.loads(body)["result"] in ("success", "warning")
        for s in slow:
            s.sendall(pdf[12:13])  # still connected, still waited for
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)  # and nothing answered yet
    finally:
        for s in slow:
            s.close()


def test_genuine_answered_while_hostile_files_hold_every_parse_slot(
    issued: Issued, tmp_path: Path
) -> None:
    """Through nginx and the gthread workers as deployed: hostile files take every parse slot of
    the service (their parse processes frozen, so the slots stay taken for as long as the test
    needs) and more wait for one; a genuine document is answered, and the waiting hostile files
    are told ``busy``, while every slot is still held."""
    slots = Isolation().slot_count
    # Wall time far beyond the test: only the test's own SIGKILL ends the frozen parses.
    with start(issued, tmp_path, {"time_limit_seconds": 120}) as served:
        cmdline = (Path("/proc") / str(served.gunicorn.pid) / "cmdline").read_bytes().split(b"\0")
        assert cmdline[cmdline.index(b"--worker-class") + 1] == b"gthread"
        assert cmdline[cmdline.index(b"--threads") + 1] == str(THREADS).encode()
        folder = (
            Path(tempfile.gettempdir()) / f"certseal-verifier-{os.getuid()}-{served.gunicorn.pid}"
        )
        held = [folder / f"slot-{i}" for i in range(slots)]
        url = served.url + "/api/v1/verify"
        # Each worker starts a parse process: wait until both are ready (blocked reading their
        # first job), so that freezing one holds a parse, not its start.
        for _ in range(600):
            children = _parse_children(served.gunicorn.pid)
            if len(children) == 2 and all(_waiting_for_a_job(pid) for pid in children):
                break
            time.sleep(0.1)
        answers: list[tuple[int, Any]] = []
        frozen: list[int] = []

        def attack() -> None:
            answers.append(post_raw(url, worst_hostile_pdf()))

        first = [threading.Thread(target=attack) for _ in range(slots)]
        for t in first:
            t.start()
        try:
            for _ in range(3000):  # bounded: at most 30 s for the parses to start
                if all(_slot_taken(p) for p in held):
                    break
                time.sleep(0.01)
            assert all(_slot_taken(p) for p in held), "the hostile parses never took every slot"
            frozen = _parse_children(served.gunicorn.pid)
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            waiting = [threading.Thread(target=attack) for _ in range(2)]
            for t in waiting:
                t.start()
            genuine = post_raw(url, issued.pdf("genuine"))
            for t in waiting:
                t.join(timeout=60)
            still_held = all(_slot_taken(p) for p in held)
            busy = list(answers)
        finally:
            for pid in frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for t in first:
                t.join(timeout=60)
        assert still_held  # every answer below came while all the slots were taken
        assert genuine[0] == 200 and genuine[1]["result"] == "success"
        assert [(s, [r["code"] for r in b["reasons"]]) for s, b in busy] == [(503, ["busy"])] * 2
        # The frozen parses, once killed, are answered too: the reader stopped on the file (or,
        # for a second parse in one worker, whose process was still starting: busy).
        assert len(answers) == slots + 2
        assert {(s, r["code"]) for s, b in answers[2:] for r in b["reasons"]} <= {
            (200, "malformed_pdf"),
            (503, "busy"),
        }


def test_connections_beyond_the_per_address_limit_are_refused_at_once(
    issued: Issued, tmp_path: Path
) -> None:
    with start(issued, tmp_path, conns_per_address=2) as served:
        pdf = issued.pdf("genuine")
        slow = [
            socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) for _ in range(2)
        ]
        try:
            for s in slow:
                s.sendall(head(served, len(pdf)) + pdf[:10])
            # Not an upload: beyond its own limit, an upload is answered busy.
            get = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            status, _, body = answer(raw(served, get.encode()))
        finally:
            for s in slow:
                s.close()
    assert status == 429
    assert [r["code"] for r in json.loads(body)["reasons"]] == ["status_unavailable"]


def test_uploads_beyond_the_per_address_limit_are_told_busy(issued: Issued, tmp_path: Path) -> None:
    """One upload still arriving from an address is all it may have at once here; its next
    upload is answered busy at once, while its other requests are served."""
    with start(issued, tmp_path, uploads_per_address=1) as served:
        pdf = issued.pdf("genuine")
        with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as slow:
            slow.sendall(head(served, len(pdf)) + pdf[:10])
            for _ in range(100):  # until nginx has read the slow upload's headers
                status, _, body = answer(raw(served, head(served, len(pdf)) + pdf))
                if status != 200:
                    break
                time.sleep(0.05)
            get = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            other, _, _ = answer(raw(served, get.encode()))
            slow.sendall(pdf[10:])  # the first upload, completed, is verified
            first, _, first_body = answer(read_answer(slow))
    assert status == 429
    assert [r["code"] for r in json.loads(body)["reasons"]] == ["busy"]
    assert other == 200
    assert first == 200 and json.loads(first_body)["result"] in ("success", "warning")


def test_a_body_shorter_than_its_length_never_reaches_a_worker(
    served: Served, issued: Issued
) -> None:
    """nginx waits body_timeout (3 s here) for the rest, then drops the connection (408 in its
    log; nginx writes no answer on a timed-out body). The client that closes its side is a 400."""
    pdf = issued.pdf("genuine")
    with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as s:
        s.sendall(head(served, len(pdf)) + pdf[:100])
        try:
            got = read_all(s)
        except ConnectionResetError:
            got = b""
    assert not got.startswith(b"HTTP/1.1 5")
    with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as s:
        s.sendall(head(served, len(pdf)) + pdf[:100])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    log = access_log(served)
    assert any('"POST /api/v1/verify" 408 ' in line for line in log)
    assert any('"POST /api/v1/verify" 400 ' in line for line in log)


@pytest.mark.parametrize(
    ("chunks", "lang"),
    [(b"ZZZ\r\nabc\r\n0\r\n\r\n", "en"), (b"3\r\nabcdef\r\n0\r\n\r\n", "zh-TW")],
    ids=["bad-size", "overlong-chunk"],
)
def test_malformed_chunked_body_is_bad_request(served: Served, chunks: bytes, lang: str) -> None:
    request = (
        "POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pdf\r\n"
        f"Accept-Language: {lang}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, body = answer(raw(served, request + chunks))
    doc = json.loads(body)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert [r["code"] for r in doc["reasons"]] == ["bad_request"] and doc["lang"] == lang


def test_too_large_is_refused_before_the_body(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as s:
        s.sendall(head(served, 99_999_999))
        status, _, body = answer(read_answer(s))
    assert status == 413
    assert [r["code"] for r in json.loads(body)["reasons"]] == ["too_large"]


def test_directory_probes_all_look_the_same(served: Served) -> None:
    """A folder outside the site that exists and one that does not get the same answer."""
    get = "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    exists = answer(raw(served, get.format("/../../etc").encode()))
    missing = answer(raw(served, get.format("/../../no-such-folder").encode()))
    assert exists[0] == missing[0] == 400 and exists[2] == missing[2]
    status, headers, _ = answer(raw(served, get.format("/en").encode()))
    assert (status, headers["Location"]) == (301, "/en/")


def test_the_site_comes_from_nginx_with_the_verifier_headers(served: Served) -> None:
    get = "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, headers, _ = answer(raw(served, get.format("/status/timestamp.json").encode()))
    assert (status, headers["Cache-Control"]) == (200, "no-cache")
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = answer(raw(served, get.format("/healthz").encode()))
    assert (status, json.loads(body)) == (200, {"ok": True})


def test_each_instance_keeps_its_own_control_socket(
    served: Served, issued: Issued, tmp_path: Path
) -> None:
    with start(issued, tmp_path) as second:
        for s in (served, second):
            assert stat.S_ISSOCK(s.control_socket.stat().st_mode)
            assert s.control_socket.parent == s.cfg.run_dir
        assert served.control_socket != second.control_socket
        assert not (tmp_path / "home" / ".gunicorn").exists()
    assert not second.control_socket.exists()  # removed when that instance stopped
    assert stat.S_ISSOCK(served.control_socket.stat().st_mode)


@pytest.mark.parametrize(
    ("field", "value"),
    [("run_dir", Path("relative")), ("site_dir", Path("/srv/site;evil")), ("listen", "a b")],
)
def test_front_settings_that_would_break_the_configuration_are_refused(
    tmp_path: Path, field: str, value: object
) -> None:
    args: dict[str, object] = {"run_dir": tmp_path, field: value}
    with pytest.raises(ConfigurationError):
        FrontConfig(**args)  # type: ignore[arg-type]
