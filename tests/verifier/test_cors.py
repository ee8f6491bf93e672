"""Pages on another host calling the verifier (verifier/cors.py), over real servers on 127.0.0.1:
which origins may read which answers, the preflight, and uploads refused before they count."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from certseal.errors import ConfigurationError
from tests.conftest import Issued
from tests.verifier.conftest import LiveServer, verifier_config
from verifier.app import create_app
from verifier.config import VerifierConfig

SITE = "http://127.0.0.1:8001"  # the static site, on another port: another origin
ELSEWHERE = "https://copycat.example"
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def request(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def upload(url: str, pdf: bytes, **headers: str) -> tuple[int, Message, Any]:
    status, head, body = request(url, "POST", pdf, {"Content-Type": "application/pdf", **headers})
    return status, head, json.loads(body)


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


@pytest.fixture
def listed(issued: Issued, tmp_path: Path) -> Iterator[LiveServer]:
    """A verifier that lists the site's origin."""
    server = LiveServer(create_app(verifier_config(issued, tmp_path, cors_origins=[SITE])))
    yield server
    server.stop()


def test_reads_answer_any_origin(live: LiveServer) -> None:
    for path in ("/api/v1/status", "/api/v1/openapi.yaml"):
        status, headers, _ = request(live.url + path, headers={"Origin": ELSEWHERE})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = request(live.url + "/healthz", headers={"Origin": ELSEWHERE})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_a_listed_origin_reads_its_answer_after_a_preflight(
    listed: LiveServer, issued: Issued
) -> None:
    for path in ("/api/v1/verify", "/api/v1/verify/batch"):
        status, headers, body = request(
            listed.url + path,
            "OPTIONS",
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert (status, body) == (204, b"")
        assert headers["Access-Control-Allow-Origin"] == SITE
        assert headers["Access-Control-Allow-Methods"] == "POST"
        assert headers["Access-Control-Allow-Headers"] == "Content-Type"
        assert headers["Access-Control-Max-Age"] == "600"
        assert headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Credentials" not in headers
    status, headers, body = upload(
        listed.url + "/api/v1/verify", issued.pdf("genuine"), Origin=SITE, **CROSS_SITE
    )
    assert status == 200 and body["result"] == "success"
    assert headers["Access-Control-Allow-Origin"] == SITE and headers["Vary"] == "Origin"


def test_an_upload_from_a_page_not_listed_is_refused_and_not_counted(
    listed: LiveServer, issued: Issued
) -> None:
    url = listed.url + "/api/v1/verify"
    pdf = issued.pdf("transcript")  # a document with a limit: its uses are counted
    _, _, first = upload(url, pdf)
    used = first["verifications"]["used"]
    status, headers, body = upload(
        url, pdf, Origin=ELSEWHERE, **CROSS_SITE, **{"Accept-Language": "zh-TW"}
    )
    assert status == 403 and codes(body) == ["origin_not_allowed"] and body["lang"] == "zh-TW"
    assert "其他網站" in body["reasons"][0]["message"]
    assert body["checks"][0]["detail"] == (
        "由 https://copycat.example 的網頁送出，該網站不在本驗證服務接受的來源之列"
    )
    assert "Access-Control-Allow-Origin" not in headers and headers["Vary"] == "Origin"
    # A site of the same registrable domain is still another origin.
    status, _, body = upload(
        url, pdf, Origin="http://127.0.0.1:9", **{"Sec-Fetch-Site": "same-site"}
    )
    assert status == 403 and codes(body) == ["origin_not_allowed"]
    _, _, after = upload(url, pdf)
    assert after["verifications"]["used"] == used + 1  # the refused uploads spent nothing


def test_the_preflight_of_a_page_not_listed_is_refused(listed: LiveServer) -> None:
    status, headers, body = request(
        listed.url + "/api/v1/verify",
        "OPTIONS",
        headers={"Origin": ELSEWHERE, "Access-Control-Request-Method": "POST"},
    )
    assert status == 403 and codes(json.loads(body)) == ["origin_not_allowed"]
    assert not [h for h in headers if h.lower().startswith("access-control-")]


def test_a_batch_from_a_page_not_listed_is_refused_in_the_batch_format(
    listed: LiveServer, issued: Issued
) -> None:
    status, _, body = upload(
        listed.url + "/api/v1/verify/batch", issued.pdf("genuine"), Origin=ELSEWHERE, **CROSS_SITE
    )
    assert status == 403 and codes(body) == ["origin_not_allowed"]
    assert (body["count"], body["files"]) == (0, [])


def test_the_form_from_a_frame_of_a_page_not_listed_is_refused_on_a_page(
    listed: LiveServer, issued: Issued
) -> None:
    """The no-JavaScript form posted from another host: a person's own navigation is served
    (the site's fallback; they see the verifier's page), one from a frame is not."""
    boundary = "corsb0undary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n\r\n'
        ).encode()
        + issued.pdf("genuine")
        + f"\r\n--{boundary}--\r\n".encode()
    )
    sent = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Origin": ELSEWHERE,
        "Sec-Fetch-Mode": "navigate",
        **CROSS_SITE,
    }
    framed = {**sent, "Sec-Fetch-Dest": "iframe"}
    status, headers, body = request(listed.url + "/verify", "POST", form, framed)
    assert status == 403 and headers["Content-Type"].startswith("text/html")
    assert "檔案是從其他網站的網頁送出" in body.decode()
    shown = {**sent, "Sec-Fetch-Dest": "document"}
    status, headers, body = request(listed.url + "/verify", "POST", form, shown)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "檔案是從其他網站的網頁送出" not in body.decode()


def test_clients_that_are_not_pages_and_the_verifiers_own_pages_are_served(
    live: LiveServer, issued: Issued
) -> None:
    """No origin is listed (the default). A script or an older browser sends no
    Sec-Fetch-Site: served, and only a listed origin could read the answer in a browser."""
    url = live.url + "/api/v1/verify"
    status, headers, body = upload(url, issued.pdf("genuine"), Origin=ELSEWHERE)
    assert status == 200 and body["result"] == "success"
    assert "Access-Control-Allow-Origin" not in headers and headers["Vary"] == "Origin"
    status, headers, body = upload(
        url, issued.pdf("genuine"), Origin=live.url, **{"Sec-Fetch-Site": "same-origin"}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_any_origin_when_the_operator_says_so(issued: Issued, tmp_path: Path) -> None:
    server = LiveServer(create_app(verifier_config(issued, tmp_path, cors_origins=["*"])))
    try:
        status, headers, _ = upload(
            server.url + "/api/v1/verify", issued.pdf("genuine"), Origin=ELSEWHERE, **CROSS_SITE
        )
    finally:
        server.stop()
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"


def test_origins_are_written_as_browsers_write_them(issued: Issued, tmp_path: Path) -> None:
    cfg = VerifierConfig.from_dict(
        verifier_config(
            issued, tmp_path, cors_origins=["HTTPS://Site.Example.EDU/", "http://127.0.0.1:8001"]
        )
    )
    assert cfg.cors_origins == ("https://site.example.edu", "http://127.0.0.1:8001")
    env = {
        "CERTSEAL_TRUST_DIR": str(issued.home / "keys"),
        "CERTSEAL_STATUS_SOURCE": str(issued.published),
        "CERTSEAL_CORS_ORIGINS": "https://a.example, https://b.example:8443",
    }
    assert VerifierConfig.from_env(env).cors_origins == (
        "https://a.example",
        "https://b.example:8443",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (["site.example.edu"], "is not an origin"),
        (["https://site.example.edu/verify"], "is not an origin"),
        (["https://user@site.example.edu"], "is not an origin"),
        (["https://site.example.edu;evil"], "is not an origin"),
        (["ftp://site.example.edu"], "is not an origin"),
        (["*", "https://site.example.edu"], "stands alone"),
        ("https://site.example.edu", "must be a list"),
    ],
)
def test_what_is_not_an_origin_is_refused(
    issued: Issued, tmp_path: Path, value: object, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        VerifierConfig.from_dict(verifier_config(issued, tmp_path, cors_origins=value))
