"""gunicorn as deployed: one escaped log line per verification, the `certseal verifier serve` and
`front-config` commands, each instance with its own control socket."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authority.keys import Identity, issue_certificate
from authority.signing import DocumentSealer
from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from tests.verifier.test_api import post
from tests.verifier.test_files import _unsigned_render
from verifier.app import OneLineFormatter
from verifier.front import find_program, gunicorn_argv

BIN = Path(sys.executable).parent
FORGED_LINE = "0 INFO certseal.verifier: verify result=success"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert proc.poll() is None, "the server stopped"
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def forged_subject_pdf(issued: Issued) -> bytes:
    """Certified by a look-alike CA whose names carry a newline and a whole log line after it."""
    now = dt.datetime.now(dt.UTC)
    evil = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Forged\n" + FORGED_LINE)])
    usage = x509.KeyUsage(True, True, False, False, False, True, True, False, False)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(
        subject=evil,
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        usage=usage,
        ca=True,
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate(
        subject=evil,
        public_key=key.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        usage=x509.KeyUsage(True, True, False, False, False, False, False, False, False),
        ca=False,
    )
    return DocumentSealer(Identity(key=key, cert=leaf, chain=(root,))).seal(
        _unsigned_render(issued)
    )


def test_one_line_formatter_escapes_and_drops_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "pyhanko",
            logging.ERROR,
            __file__,
            1,
            "subject %s",
            ("A\n" + FORGED_LINE,),
            sys.exc_info(),
        )
    line = OneLineFormatter().format(record)
    assert "\n" not in line
    assert re.search(rf"subject A\\n{FORGED_LINE} \[ValueError at test_deploy.py:\d+\]$", line)


def test_log_times_are_the_standard_ones_across_seconds() -> None:
    """The formatter writes each second's text once; every line still reads as logging's own."""
    ours, standard = OneLineFormatter(), logging.Formatter(OneLineFormatter()._fmt)
    for created in (1_800_000_000.0, 1_800_000_000.999, 1_800_000_001.0005, 1_800_000_000.5):
        record = logging.LogRecord("certseal.verifier", logging.INFO, __file__, 1, "m", (), None)
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        assert ours.format(record) == standard.format(record)


def test_gunicorn_logs_one_line_per_verification(issued: Issued, tmp_path: Path) -> None:
    """An untrusted signer whose certificate names forge a log line; then a genuine file."""
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path)))
    port = free_port()
    log = tmp_path / "stderr.log"
    args = gunicorn_argv(
        str(BIN / "gunicorn"),
        f"127.0.0.1:{port}",
        control_socket=tmp_path / "g.ctl",
        access_log=False,
    )
    with open(log, "wb") as err:
        # Its own process group, as a deployed service has: its parse slot is its own, not
        # shared with this test process (whose earlier servers may still be finishing a parse).
        server = subprocess.Popen(
            args,
            env={**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)},
            stderr=err,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(url, server)
            _, body = post(url + "/api/v1/verify", forged_subject_pdf(issued))
            assert "untrusted_signer" in [r["code"] for r in body["reasons"]]
            _, body = post(url + "/api/v1/verify", issued.pdf("superseded"))
            assert body["result"] == "warning"
        finally:
            server.terminate()
            server.wait(timeout=15)
    lines = log.read_text().splitlines()
    ours = [line for line in lines if " certseal.verifier: " in line]
    assert [line.split("verify ")[1].split(" sha256")[0] for line in ours] == [
        "result=failure reasons=untrusted_signer,not_issued",
        "result=warning reasons=superseded",
    ]
    assert not [line for line in lines if line.startswith(FORGED_LINE)]
    assert not [line for line in lines if "Traceback" in line or line.startswith("  ")]


def start_gunicorn(issued: Issued, tmp_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path)))
    port = free_port()
    args = gunicorn_argv(
        str(BIN / "gunicorn"), f"127.0.0.1:{port}", control_socket=tmp_path / "g.ctl"
    )
    server = subprocess.Popen(
        args,
        env={**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url, server)
    return url, server


def test_without_the_front_bad_bodies_are_still_bad_requests(
    issued: Issued, tmp_path: Path
) -> None:
    """gunicorn alone: a broken chunked body and a body cut short are the client's 400
    ``bad_request`` (gunicorn raises its own exception types for these), never a 503."""
    url, server = start_gunicorn(issued, tmp_path)
    port = int(url.rsplit(":", 1)[1])
    pdf = issued.pdf("genuine")
    form = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + pdf + b"\r\n--b--\r\n"
    )
    requests = {
        "chunked": (b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",) * 2,
        "short": (
            f"Content-Length: {len(pdf)}\r\n\r\n".encode() + pdf[:100],
            f"Content-Length: {len(form)}\r\n\r\n".encode() + form[:300],
        ),
    }
    form_type = "multipart/form-data; boundary=b"
    try:
        for (name, bodies), (at, (path, kind)) in itertools.product(
            requests.items(),
            enumerate([("/api/v1/verify", "application/pdf"), ("/api/v1/verify/batch", form_type)]),
        ):
            rest = bodies[at]
            with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                s.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    f"Content-Type: {kind}\r\nAccept-Language: en\r\n".encode()
                    + rest
                )
                s.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            top, _, body = data.partition(b"\r\n\r\n")
            assert top.split()[1] == b"400", (name, path, top)
            (reason,) = json.loads(body)["reasons"]
            assert reason["code"] == "bad_request", (name, path)
            # Said as what happened, not as "upload one file in the field file".
            assert "cut short" in reason["message"], (name, path)
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_serve_runs_nginx_before_gunicorn_and_ctrl_c_stops_both(
    issued: Issued, tmp_path: Path
) -> None:
    if find_program("nginx") is None:
        pytest.skip("nginx is installed by scripts/setup.sh")
    port = free_port()
    run = tmp_path / "run"
    cli = subprocess.Popen(
        [
            str(BIN / "certseal"),
            "verifier",
            "serve",
            "--trust-dir",
            str(issued.home / "keys"),
            "--source",
            str(issued.published),
            "--site-dir",
            str(issued.published),
            "--counts-db",
            str(tmp_path / "counts.sqlite"),
            "--port",
            str(port),
            "--run-dir",
            str(run),
            "--threads",
            "8",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, cli)
        status, body = post(url + "/api/v1/verify", issued.pdf("superseded"))
        assert (status, body["result"]) == (200, "warning")
        nginx_pid = int((run / "nginx.pid").read_text())
        assert (run / "gunicorn.sock").exists() and (run / "gunicorn.ctl").exists()
        assert [b"--worker-class", b"gthread", b"--threads", b"8"] in [
            argv[i : i + 4] for argv in _children_argv(cli.pid) for i in range(len(argv))
        ]
    finally:
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=30) == 0
    assert not (run / "gunicorn.sock").exists()  # gunicorn removed it on its way out
    with pytest.raises(ProcessLookupError):
        os.kill(nginx_pid, 0)


def _children_argv(parent: int) -> list[list[bytes]]:
    """The command lines of a process's children."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().split()[3] == str(parent):
                out.append((entry / "cmdline").read_bytes().split(b"\0"))
        except OSError:
            continue
    return out


def test_front_config_for_the_system_nginx_is_accepted_by_nginx(tmp_path: Path) -> None:
    nginx = find_program("nginx")
    if nginx is None:
        pytest.skip("nginx is installed by scripts/setup.sh")
    out = tmp_path / "etc"
    done = subprocess.run(
        [
            str(BIN / "certseal"),
            "verifier",
            "front-config",
            "--out",
            str(out),
            "--listen",
            "127.0.0.1:8443",
            "--server-name",
            "verify.example.edu",
            "--socket",
            "/run/certseal/gunicorn.sock",
            "--access-log",
            str(tmp_path / "a.log"),
            "--error-log",
            str(tmp_path / "front-errors.log"),
            "--uploads-per-address",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    conf = Path(done.stdout.strip())
    assert conf == out / "verifier.conf"
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"client_body_temp_path {tmp_path};\nproxy_temp_path {tmp_path};\n"
        f"fastcgi_temp_path {tmp_path};\nuwsgi_temp_path {tmp_path};\nscgi_temp_path {tmp_path};\n"
        f"include {conf};\n}}\n"
    )
    test = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stderr
    assert json.loads((out / "errors" / "zh-TW" / "413.json").read_text())["lang"] == "zh-TW"
    assert "limit_conn certseal_uploads 2;" in conf.read_text()
    # No client address in the error log unless a person lowers its level to diagnose.
    assert f"error_log {tmp_path / 'front-errors.log'} crit;" in conf.read_text()
    busy = json.loads((out / "errors" / "en" / "429.json").read_text())
    assert [r["code"] for r in busy["reasons"]] == ["busy"]
