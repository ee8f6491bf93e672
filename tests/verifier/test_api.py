"""The HTTP contract, over a real server on 127.0.0.1, checked against openapi.yaml."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from tests.conftest import Issued
from tests.verifier import hostile
from tests.verifier.conftest import LiveServer, verifier_config
from verifier.app import create_app

SPEC = yaml.safe_load(Path("verifier/openapi.yaml").read_text())
SCHEMA = {**SPEC["components"]["schemas"]["Verification"], "components": SPEC["components"]}


def post(
    url: str,
    data: bytes | None,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    boundary = "----certseal-test"
    body = io.BytesIO()
    for k, v in (fields or {}).items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        )
    if data is not None:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n".encode()
        )
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(
        url,
        data=body.getvalue(),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_openapi_document_is_valid() -> None:
    validate(SPEC)


def test_genuine_over_http_matches_the_contract(live: LiveServer, issued: Issued) -> None:
    status, body = post(live.url + "/api/v1/verify", issued.pdf("genuine"), {"lang": "en"})
    assert status == 200
    jsonschema.validate(body, SCHEMA)
    assert body["result"] == "success" and body["reasons"] == []
    assert body["document"]["type"] == "diploma_zh"
    assert body["document"]["issuer"] == "National Demonstration University"
    assert body["status_list"]["version"] >= 1


@pytest.mark.parametrize(
    ("role", "result", "code"),
    [("superseded", "warning", "superseded"), ("revoked", "failure", "revoked")],
)
def test_states_over_http(
    live: LiveServer, issued: Issued, role: str, result: str, code: str
) -> None:
    status, body = post(live.url + "/api/v1/verify", issued.pdf(role))
    jsonschema.validate(body, SCHEMA)
    assert (status, body["result"], [r["code"] for r in body["reasons"]]) == (200, result, [code])


def test_language_from_field_and_header(live: LiveServer, issued: Issued) -> None:
    _, zh = post(live.url + "/api/v1/verify", issued.pdf("superseded"), {"lang": "zh-TW"})
    assert "新版本" in zh["reasons"][0]["message"]
    _, zh2 = post(
        live.url + "/api/v1/verify",
        issued.pdf("superseded"),
        headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"},
    )
    assert zh2["reasons"] == zh["reasons"]
    _, en = post(
        live.url + "/api/v1/verify", issued.pdf("superseded"), headers={"Accept-Language": "en-GB"}
    )
    assert "newer version" in en["reasons"][0]["message"]


def test_too_large_is_413_with_the_same_body(live: LiveServer) -> None:
    status, body = post(live.url + "/api/v1/verify", hostile.huge())
    assert status == 413
    jsonschema.validate(body, SCHEMA)
    assert [r["code"] for r in body["reasons"]] == ["too_large"]


@pytest.mark.parametrize("data", [None, b""], ids=["no-file", "empty"])
def test_missing_or_empty_file(live: LiveServer, data: bytes | None) -> None:
    status, body = post(live.url + "/api/v1/verify", data)
    jsonschema.validate(body, SCHEMA)
    assert body["result"] == "failure"
    if data is None:
        assert status == 400 and body["reasons"][0]["code"] == "bad_request"
    else:
        assert status == 200 and body["reasons"][0]["code"] == "empty_file"


def test_not_multipart_is_a_json_4xx(live: LiveServer) -> None:
    # Neither multipart nor a PDF body (application/pdf is accepted as the file itself).
    req = urllib.request.Request(
        live.url + "/api/v1/verify",
        data=b"%PDF-1.7 junk",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    jsonschema.validate(json.loads(e.value.read()), SCHEMA)


def test_wrong_method_is_json(live: LiveServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(live.url + "/api/v1/verify", timeout=10)
    assert e.value.code == 405
    assert json.loads(e.value.read())["result"] == "failure"


def test_status_and_health(live: LiveServer) -> None:
    with urllib.request.urlopen(live.url + "/api/v1/status", timeout=10) as r:
        body = json.loads(r.read())
    assert body["ok"] is True
    assert body["status_lists"][0]["version"] >= 1
    assert body["status_lists"][0]["stale"] is False
    with urllib.request.urlopen(live.url + "/healthz", timeout=10) as r:
        assert json.loads(r.read()) == {"ok": True}


def test_html_form_result_page(live: LiveServer, issued: Issued) -> None:
    boundary = "b0undary"
    data = issued.pdf("superseded")
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="lang"\r\n\r\nen\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.pdf"\r\n\r\n'
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(
        live.url + "/verify",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        html = r.read().decode()
        csp = r.headers["Content-Security-Policy"]
    assert "Warning" in html and "newer version" in html
    assert "default-src 'self'" in csp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fifty_simultaneous_uploads_count_exactly_three(issued: Issued, tmp_path: Path) -> None:
    """Under gunicorn with 2 worker processes: the count is atomic across processes."""
    port = _free_port()
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path)))
    env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "verifier.app:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        pdf = issued.pdf("transcript")
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda _: post(url + "/api/v1/verify", pdf), range(50)))
        verdicts = [b["result"] for _, b in results]
        odd = [b["reasons"] for _, b in results if b["result"] == "failure"]
        assert not odd, odd
        assert verdicts.count("success") == 3
        assert verdicts.count("warning") == 47
        assert all(s == 200 for s, _ in results)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_site_folder_redirects_to_its_slash(issued: Issued, tmp_path: Path) -> None:
    from authority.config import DEMO_SCHOOL
    from authority.site_build import build_site
    from certseal.fetch import published_fetcher
    from certseal.pki import TrustStore
    from certseal.statuslist import load_trusted
    from tests.conftest import NOW

    site = tmp_path / "site"
    import shutil

    shutil.copytree(issued.published, site)
    keys = TrustStore.from_pem([], [(site / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(site), "status"), keys.status_key, reference_time=NOW
    )
    certs = {p.name: p.read_bytes() for p in (site / "certs").glob("*.pem")}
    build_site(site, school=DEMO_SCHOOL, snapshot=state.snapshot, certs=certs, now=NOW)
    server = LiveServer(create_app(verifier_config(issued, tmp_path, site_dir=str(site))))
    try:
        req = urllib.request.Request(server.url + "/en", method="GET")
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as e:
            opener.open(req, timeout=10)
        e.value.close()
        assert e.value.code == 301 and e.value.headers["Location"].endswith("/en/")
        with urllib.request.urlopen(server.url + "/en/", timeout=10) as r:
            assert b"<html" in r.read()
    finally:
        server.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def post_raw(url: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/pdf", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_raw_pdf_body_is_the_file(live: LiveServer, issued: Issued) -> None:
    status, body = post_raw(live.url + "/api/v1/verify?lang=zh-TW", issued.pdf("superseded"))
    jsonschema.validate(body, SCHEMA)
    assert (status, body["result"], body["lang"]) == (200, "warning", "zh-TW")
    assert [r["code"] for r in body["reasons"]] == ["superseded"]
    status, body = post_raw(live.url + "/api/v1/verify", b"")
    assert (status, body["reasons"][0]["code"]) == (200, "empty_file")
    status, body = post_raw(live.url + "/api/v1/verify", hostile.huge())
    assert (status, body["reasons"][0]["code"]) == (413, "too_large")


def test_status_shows_no_server_path_and_is_not_ok_when_stale(
    issued: Issued, tmp_path: Path
) -> None:
    from tests.conftest import NOW

    for hours, stale in ((3, False), (30, True)):
        app = create_app(
            verifier_config(issued, tmp_path), clock=lambda h=hours: NOW + dt.timedelta(hours=h)
        )
        with app.test_client() as client:
            body = client.get("/api/v1/status").get_json()
        assert (body["ok"], body["status_lists"][0]["stale"]) == (not stale, stale)
        assert body["status_lists"][0]["source"] is None
        assert str(tmp_path) not in json.dumps(body) and str(issued.published) not in json.dumps(
            body
        )
    validate(SPEC)
    schema = SPEC["paths"]["/api/v1/status"]["get"]["responses"]["200"]["content"]
    jsonschema.validate(body, schema["application/json"]["schema"])


def test_directory_probes_outside_the_site_look_alike(issued: Issued, tmp_path: Path) -> None:
    """A folder that exists on the server and one that does not: the same 404."""
    site = tmp_path / "site"
    (site / "en").mkdir(parents=True)
    (site / "en" / "index.html").write_text("<html></html>")
    server = LiveServer(create_app(verifier_config(issued, tmp_path, site_dir=str(site))))
    port = int(server.url.rsplit(":", 1)[1])

    def get(path: str) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data.split(b"\r\n", 1)[0]

    try:
        assert get("/../../etc") == get("/../../no-such-folder") == b"HTTP/1.1 404 NOT FOUND"
        assert get("/en").startswith(b"HTTP/1.1 301")
    finally:
        server.stop()
