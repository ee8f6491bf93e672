"""The front's limits taken from the verifier's own settings, through real nginx and gunicorn:
the batch endpoint's larger body, nginx's 413 in the verifier's words, CORS passed through
untouched, and a short body dropped after the uploads' shorter silence. Every wait is bounded by
a socket timeout; nothing asserts a duration."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from tests.verifier.test_front import NGINX, answer, free_port, raw, read_all, read_answer
from verifier import batch
from verifier.config import VerifierConfig
from verifier.front import FrontConfig, Served
from verifier.messages import Lang

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is installed by scripts/setup.sh")

MIB = 1024 * 1024
SITE = "http://127.0.0.1:8001"
# Small limits, so that a batch over the single upload's cap stays quick to send.
SETTINGS = {"max_upload_bytes": MIB, "batch_max_bytes": 3 * MIB, "cors_origins": [SITE]}


def start(issued: Issued, base: Path, **front: Any) -> Served:
    """nginx + gunicorn with the front built from the verifier's settings file, as
    ``certseal verifier serve`` builds it."""
    base.mkdir(parents=True, exist_ok=True)
    settings = verifier_config(issued, base, **SETTINGS)
    cfg_file = base / "verifier.json"
    cfg_file.write_text(json.dumps(settings))
    env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg_file), "HOME": str(base)}
    env.pop("XDG_RUNTIME_DIR", None)
    assert NGINX is not None
    cfg = FrontConfig.for_verifier(
        VerifierConfig.from_dict(settings),
        base / "run",
        listen=f"127.0.0.1:{free_port()}",
        **front,
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return Served(cfg, nginx=NGINX, gunicorn=gunicorn, env=env, output=None)


@pytest.fixture(scope="module")
def served(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # The uploads' silence (1 s) far shorter than the rest's (30 s): a short body shows which.
    with start(
        issued, tmp_path_factory.mktemp("limits"), body_timeout=30, upload_body_timeout=1
    ) as s:
        yield s


def post(
    path: str, length: int, ctype: str = "application/pdf", headers: dict[str, str] | None = None
) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


def batch_request(files: list[bytes], headers: dict[str, str] | None = None) -> bytes:
    b = "limitsb0undary"
    part = '--{}\r\nContent-Disposition: form-data; name="file"; filename="d{}.pdf"\r\n\r\n'
    body = b"".join(part.format(b, i).encode() + f + b"\r\n" for i, f in enumerate(files))
    body += f"--{b}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={b}"
    return post("/api/v1/verify/batch", len(body), ctype, headers) + body


def too_large_body(
    served: Served, path: str, length: int, lang: str
) -> tuple[int, dict[str, str], Any]:
    """nginx's answer to a request whose declared body is over ``path``'s limit (never sent)."""
    with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as s:
        s.sendall(post(path, length, headers={"Accept-Language": lang, "Origin": SITE}))
        status, headers, body = answer(read_answer(s))
    return status, headers, json.loads(body)


def test_a_batch_larger_than_one_upload_passes_the_front(served: Served, issued: Issued) -> None:
    pdf = issued.pdf("genuine")
    files = [pdf] * (MIB * 3 // 2 // len(pdf) + 1)  # 1.5 MB: over one upload's 1 MB + envelope
    assert sum(map(len, files)) > served.cfg.max_upload_bytes + 64 * 1024
    status, _, body = answer(raw(served, batch_request(files)))
    doc = json.loads(body)
    assert status == 200 and doc["count"] == len(files)
    assert doc["summary"] == {"success": len(files), "warning": 0, "failure": 0}


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_a_batch_over_its_limit_is_refused_by_nginx_in_the_apps_words(
    served: Served, lang: Lang
) -> None:
    limit = batch.BatchLimits(max_total_bytes=3 * MIB).max_request_bytes
    status, headers, body = too_large_body(served, "/api/v1/verify/batch", limit + 1, lang)
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert body == batch.too_large(3 * MIB).to_dict(lang)  # what the app itself answers
    assert [r["code"] for r in body["reasons"]] == ["batch_too_large"] and body["lang"] == lang
    # nginx's own refusal is readable by a listed page too.
    assert headers["Access-Control-Allow-Origin"] == SITE


def test_one_upload_keeps_its_own_cap(served: Served) -> None:
    status, headers, body = too_large_body(served, "/api/v1/verify", MIB * 3 // 2, "zh-TW")
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert [r["code"] for r in body["reasons"]] == ["too_large"] and body["lang"] == "zh-TW"
    assert "1 MB" in body["reasons"][0]["message"]


def test_cors_passes_through_nginx_untouched(served: Served, issued: Issued) -> None:
    preflight = (
        "OPTIONS /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Origin: {SITE}\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type\r\n\r\n"
    ).encode()
    reply = raw(served, preflight)
    status, headers, _ = answer(reply)
    assert status == 204
    assert reply.count(b"Access-Control-Allow-Origin:") == 1
    assert headers["Access-Control-Allow-Origin"] == SITE
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert headers["Access-Control-Max-Age"] == "600"
    pdf = issued.pdf("genuine")
    reply = raw(served, post("/api/v1/verify", len(pdf), headers={"Origin": SITE}) + pdf)
    status, headers, body = answer(reply)
    assert status == 200 and json.loads(body)["result"] == "success"
    assert reply.count(b"Access-Control-Allow-Origin:") == 1 and reply.count(b"Vary:") == 1
    assert (headers["Access-Control-Allow-Origin"], headers["Vary"]) == (SITE, "Origin")
    unlisted = {"Origin": "https://copycat.example", "Sec-Fetch-Site": "cross-site"}
    status, headers, body = answer(
        raw(served, post("/api/v1/verify", len(pdf), headers=unlisted) + pdf)
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert [r["code"] for r in json.loads(body)["reasons"]] == ["origin_not_allowed"]


def test_a_short_body_is_dropped_after_the_uploads_shorter_silence(
    served: Served, issued: Issued
) -> None:
    """The uploads wait 1 s for more, the rest of the server 30 s: the socket's 15 s bound
    only passes with the shorter one. nginx writes no answer on a timed-out body (it logs 408
    and, with reset_timedout_connection, resets the connection)."""
    pdf = issued.pdf("genuine")
    for path in ("/api/v1/verify", "/api/v1/verify/batch", "/verify"):
        with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=15) as s:
            s.sendall(post(path, len(pdf)) + pdf[:100])
            try:
                got = read_all(s)
            except ConnectionResetError:
                got = b""
        assert got == b""
    log = (served.cfg.run_dir / "access.log").read_text()
    for path in ("/api/v1/verify", "/api/v1/verify/batch", "/verify"):
        assert f'"POST {path}" 408 ' in log
