"""Hostile HTTP, as an outside tester sends it, through the deployment (nginx before gunicorn,
``verifier.front``) and against the Flask app: every answer is the verifier's own, in its
contract, and one client's odd request never costs another client its answer.

Every wait is bounded by a socket timeout; nothing asserts a duration."""

from __future__ import annotations

import html
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from certseal.errors import ConfigurationError
from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from tests.verifier.test_front import NGINX, answer, raw, read_answer, start
from verifier.app import create_app
from verifier.front import FrontConfig, Served
from verifier.messages import reason_message

SPEC = yaml.safe_load(Path("verifier/openapi.yaml").read_text())
REASON_CODES = set(
    SPEC["components"]["schemas"]["Verification"]["properties"]["reasons"]["items"]["properties"][
        "code"
    ]["enum"]
)
front_only = pytest.mark.skipif(NGINX is None, reason="nginx is installed by scripts/setup.sh")
# More than the 64 KB of an unread body gunicorn drains by itself before it closes the
# connection, and little enough that nginx has sent all of it before the answer comes (a larger
# body's answer arrives while nginx is still sending, and nginx keeps no such connection).
UNREAD = 80 * 1024


@pytest.fixture(scope="module")
def served(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with start(issued, tmp_path_factory.mktemp("hostile-front")) as s:
        yield s


def request(method: str, target: str, headers: str = "", body: bytes = b"") -> bytes:
    """One request on its own connection (``Connection: close``)."""
    length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else ""
    return (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"{headers}{length}\r\n"
    ).encode("latin-1") + body


def multipart(pdf: bytes, epilogue: bytes = b"") -> tuple[str, bytes]:
    b = "h0stileb0undary"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n\r\n'.encode()
        + pdf
        + f"\r\n--{b}--\r\n".encode()
        + epilogue
    )
    return f"multipart/form-data; boundary={b}", body


def unread_bodies(pdf: bytes) -> dict[str, bytes]:
    """Requests the app answers without reading their whole body: a refusal decided on the
    headers, or a multipart body with bytes after its closing boundary."""
    junk = b"%PDF-1.7\n" + b"0" * UNREAD
    ctype, with_epilogue = multipart(pdf, b"x" * UNREAD)
    return {
        "not a file type": request("POST", "/api/v1/verify", "Content-Type: text/plain\r\n", junk),
        "receipt without a receipt key": request(
            "POST", "/api/v1/verify?receipt=1", "Content-Type: application/pdf\r\n", junk
        ),
        "origin not listed": request(
            "POST",
            "/api/v1/verify",
            "Content-Type: application/pdf\r\nOrigin: https://elsewhere.example\r\n"
            "Sec-Fetch-Site: cross-site\r\n",
            junk,
        ),
        "epilogue after the closing boundary": request(
            "POST", "/api/v1/verify", f"Content-Type: {ctype}\r\n", with_epilogue
        ),
        "a body to a read": request("GET", "/api/v1/status", "", junk),
    }


@front_only
def test_a_body_left_unread_costs_no_other_request_its_answer(
    served: Served, issued: Issued
) -> None:
    """gunicorn drains at most 64 KB of a body the app did not read, then closes the connection
    after the answer without saying so; nginx kept that connection for the next request, which
    (never retried: a verification counts) was answered 502. Each hostile request here is
    followed at once by a read from another client, which must be answered."""
    followed: dict[str, list[int]] = {}
    for name, hostile in unread_bodies(issued.pdf("genuine")).items():
        for _ in range(4):
            status, headers, _ = answer(raw(served, hostile))
            assert status < 500 and headers["X-Content-Type-Options"] == "nosniff", name
            after = [answer(raw(served, request("GET", "/healthz")))[0] for _ in range(2)]
            followed.setdefault(name, []).extend(after)
    assert {name: set(s) for name, s in followed.items()} == {name: {200} for name in followed}


SECURITY = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def assert_ours(status: int, headers: dict[str, str], body: bytes, path: str) -> str | None:
    """The verifier's own answer: its security headers, JSON with documented reasons under
    /api/ (returns the first code), else an HTML page of its own; nothing of the servers'."""
    assert all(h in headers for h in SECURITY), (path, status, headers)
    text = body.decode("utf-8")
    assert "nginx" not in text and "gunicorn" not in text and "Traceback" not in text
    if path.startswith("/api/"):
        assert headers["Content-Type"].startswith("application/json"), (path, status, text)
        doc = json.loads(body)
        codes = [r["code"] for r in doc["reasons"]]
        assert codes and set(codes) <= REASON_CODES, (path, codes)
        assert doc["lang"] in ("en", "zh-TW")
        return str(codes[0])
    assert headers["Content-Type"].startswith("text/html"), (path, status)
    assert '<html lang="' in text, (path, status, text[:200])
    return None


@front_only
@pytest.mark.parametrize(
    ("method", "path", "extra", "status", "code"),
    [
        ("GET", "/nope.html", "", 404, None),
        ("GET", "/status/", "", 404, None),  # a folder without an index: nothing here either
        ("PUT", "/index.html", "", 405, None),
        ("TRACE", "/", "", 405, None),
        ("TRACE", "/api/v1/status", "", 405, "method_not_allowed"),
        ("GET", "/api/v1/nope", "", 404, "not_found"),
        ("PUT", "/api/v1/status", "", 405, "method_not_allowed"),
        ("GET", "/api/v1/verify", "", 405, "method_not_allowed"),
        ("GET", "/", "Range: bytes=99999999-\r\n", 200, None),
        ("GET", "/index.html", "Range: bytes=0-1,2-3\r\n", 200, None),
        ("POST", "/api/v1/verify", "Transfer-Encoding: gzip, chunked\r\n", 501, "bad_request"),
        ("POST", "/api/v1/status", "X-A: 1\r\nX-A: 2\r\n", 405, "method_not_allowed"),
    ],
)
def test_the_front_answers_every_refusal_in_the_verifiers_words(
    served: Served, method: str, path: str, extra: str, status: int, code: str | None
) -> None:
    """nginx's own 403, 404, 405, 416 and 501 were its default pages: English only, "nginx" in
    them, without the verifier's headers when refused before a location (TRACE)."""
    got, headers, body = answer(raw(served, request(method, path, extra)))
    assert got == status
    if status == 200:
        assert headers["Content-Length"] == str(len(body)) and "Content-Range" not in headers
        return
    assert assert_ours(got, headers, body, path) == (code or assert_ours(got, headers, body, path))


@front_only
@pytest.mark.parametrize(
    "extra",
    [
        "Content-Type: application/pdf\r\nContent-Type: text/plain\r\n",
        "Accept-Language: en\x01\r\n",
        "X-Odd: a\x01b\r\n",
        "".join(f"X-H{i}: v\r\n" for i in range(500)),
    ],
    ids=["content-type-twice", "control-in-a-read-header", "control-elsewhere", "500-headers"],
)
def test_headers_gunicorn_would_refuse_never_reach_it(
    served: Served, issued: Issued, extra: str
) -> None:
    """nginx lets these through; gunicorn answered each with its own English page (no JSON, no
    security headers). The front passes only the headers the app reads, each once, without a
    control character, so the upload is verified (or refused in the verifier's words)."""
    pdf = issued.pdf("genuine")
    status, headers, body = answer(raw(served, request("POST", "/api/v1/verify", extra, pdf)))
    assert all(h in headers for h in SECURITY)
    doc = json.loads(body)
    assert status in (200, 400) and {r["code"] for r in doc["reasons"]} <= {"bad_request"}


@front_only
def test_a_long_query_is_the_verifiers_answer(served: Served) -> None:
    """A request line between gunicorn's default limit (4094) and nginx's (8k) got gunicorn's
    own 414 page; past nginx's it is nginx's refusal, in the verifier's words (a page: nginx
    never read the address, so it cannot tell an API call)."""
    got, _, body = answer(raw(served, request("GET", "/api/v1/status?x=" + "a" * 5000)))
    assert got == 200 and "status_lists" in json.loads(body)
    got, headers, body = answer(raw(served, request("GET", "/api/v1/status?x=" + "a" * 9000)))
    assert got == 414
    assert_ours(got, headers, body, "/")


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_the_app_says_what_an_address_or_a_method_is_not(
    issued: Issued, tmp_path: Path, lang: str
) -> None:
    """An unknown address or a method an address does not take was answered with the missing
    upload's words (``bad_request``: "upload one file…") under /api/, and werkzeug's English
    page elsewhere."""
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    headers = {"Accept-Language": lang}
    nope = client.get("/api/v1/nope", headers=headers)
    put = client.put("/api/v1/status", headers=headers, data=b"x" * 100)
    for resp, status, code in ((nope, 404, "not_found"), (put, 405, "method_not_allowed")):
        body = resp.get_json()
        assert resp.status_code == status and body["lang"] == lang
        assert [r["code"] for r in body["reasons"]] == [code]
        assert body["reasons"][0]["message"] == reason_message(code, lang, {})  # type: ignore[arg-type]
        assert all(h in resp.headers for h in SECURITY)
    assert set(put.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    page = client.get("/nope", headers=headers)
    assert page.status_code == 404 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    # The pages' language is the site's (Chinese unless ?lang=en), not the browser's.
    assert '<html lang="zh-Hant-TW">' in text
    assert html.escape(reason_message("not_found", "zh-TW", {})) in text
    english = client.get("/nope?lang=en").get_data(as_text=True)
    assert html.escape(reason_message("not_found", "en", {})) in english


@front_only
def test_probes_of_the_site_leave_no_client_address_in_the_error_log(served: Served) -> None:
    """nginx wrote a line naming the client's address (and the path on the server) for every
    missing file and every folder without an index a stranger asked for; folders were a 403."""
    log = served.cfg.run_dir / "nginx-error.log"
    before = len(log.read_bytes()) if log.exists() else 0
    probes = ("/nope.html", "/status/", "/.env", "/%ff%fe", "/healthz/", "/a/b/c/", "/verify/")
    for path in probes:
        got, headers, body = answer(raw(served, request("GET", path)))
        assert got == 404, path
        assert_ours(got, headers, body, path)
    for path in ("/", "/en/"):
        got, headers, _ = answer(raw(served, request("GET", path)))
        assert (got, headers["Content-Type"]) == (200, "text/html"), path
        assert all(h in headers for h in SECURITY)
    written = log.read_bytes()[before:].decode("utf-8", "replace") if log.exists() else ""
    assert "client:" not in written, written


@front_only
def test_a_body_over_the_limit_leaves_no_client_address_in_the_error_log(
    served: Served,
) -> None:
    """nginx writes 'client intended to send too large body … client: <address>' at error
    level for any stranger's oversized upload: the front's error log keeps crit and above."""
    log = served.cfg.error_log_path
    before = len(log.read_bytes()) if log.exists() else 0
    too_big = served.cfg.max_upload_bytes + 10 * 1024 * 1024
    for path in ("/api/v1/verify", "/verify", "/nope"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/pdf\r\nContent-Length: {too_big}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", served.cfg.port), timeout=20) as s:
            s.sendall(head.encode())
            got, headers, body = answer(read_answer(s))  # then nginx resets the connection
        assert got == 413, path
        assert_ours(got, headers, body, path)
    written = log.read_bytes()[before:].decode("utf-8", "replace") if log.exists() else ""
    assert "client:" not in written, written


def test_the_error_log_level_is_a_setting_and_checked(tmp_path: Path) -> None:
    cfg = FrontConfig(run_dir=tmp_path, error_log_level="error")
    assert f"error_log {tmp_path / 'nginx-error.log'} error;" in cfg.verifier_conf()
    assert (
        f"error_log {tmp_path / 'nginx-error.log'} crit;"
        in FrontConfig(run_dir=tmp_path).verifier_conf()
    )
    with pytest.raises(ConfigurationError, match="crit"):
        FrontConfig(run_dir=tmp_path, error_log_level="loud")


def many_fields(pdf: bytes, n: int) -> tuple[str, bytes]:
    b = "m4nyfields"
    parts = b"".join(
        f'--{b}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'.encode()
        for i in range(n)
    )
    file = f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n\r\n'
    return (
        f"multipart/form-data; boundary={b}",
        parts + file.encode() + pdf + f"\r\n--{b}--\r\n".encode(),
    )


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/verify/batch", "/verify"])
def test_a_form_of_too_many_parts_is_not_called_too_large(
    issued: Issued, tmp_path: Path, path: str
) -> None:
    """werkzeug refuses a form of more than 1,000 parts as "entity too large": the answer said
    the file was over 20 MB (or the batch over its size) for a 40 KB request. A batch of more
    parts than that holds more files than a batch may."""
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    ctype, body = many_fields(issued.pdf("genuine")[:1000], 1500)
    resp = client.post(path + "?lang=en", data=body, content_type=ctype)
    assert resp.status_code == 400
    if path == "/verify":
        assert 'data-code="bad_request"' in resp.get_data(as_text=True)
    elif path == "/api/v1/verify/batch":
        (reason,) = resp.get_json()["reasons"]
        assert reason["code"] == "batch_too_many"
        assert reason["message"].startswith("The batch holds 1000+ files; at most 100 ")
    else:
        assert [r["code"] for r in resp.get_json()["reasons"]] == ["bad_request"]


def test_a_doubled_slash_is_no_address_and_no_redirect(issued: Issued, tmp_path: Path) -> None:
    """werkzeug merged the slashes with a 308 to an absolute address built from the request's
    Host (any name a client sends), with its own English page."""
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    resp = client.get("/api/v1//status", headers={"Host": "elsewhere.example"})
    assert resp.status_code == 404 and "Location" not in resp.headers
    assert [r["code"] for r in resp.get_json()["reasons"]] == ["not_found"]


def form_of(disposition: bytes, pdf: bytes, boundary: str = "f0rmb0undary") -> bytes:
    return (
        f"--{boundary}\r\n".encode()
        + disposition
        + b"\r\n\r\n"
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        # A file name in Big5 (a Windows tool in Taiwan, curl in a Big5 locale): not UTF-8.
        (
            "multipart/form-data; boundary=f0rmb0undary",
            form_of(
                b'Content-Disposition: form-data; name="file"; filename="'
                + "畢業證書.pdf".encode("big5")
                + b'"',
                b"%PDF-1.7\n",
            ),
        ),
        ("multipart/form-data", form_of(b'Content-Disposition: form-data; name="file"', b"x")),
        ("multipart/form-data; boundary=f0rmb0undary", b"--f0rmb0undary\r\n\x00\x01"),
    ],
    ids=["big5-file-name", "no-boundary", "cut-short"],
)
def test_a_form_that_cannot_be_read_is_said_so(
    issued: Issued, tmp_path: Path, ctype: str, body: bytes
) -> None:
    """werkzeug drops a form it cannot read without a word: the file sent was answered "upload
    one file in the field 'file'" (the batch: "no file was sent")."""
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    for path in ("/api/v1/verify", "/api/v1/verify/batch"):
        resp = client.post(path + "?lang=zh-TW", data=body, content_type=ctype)
        doc = resp.get_json()
        assert resp.status_code == 400 and [r["code"] for r in doc["reasons"]] == [
            "form_unreadable"
        ], path
        assert doc["reasons"][0]["message"] == reason_message("form_unreadable", "zh-TW", {})
    page = client.post("/verify", data=body, content_type=ctype)
    assert page.status_code == 400 and 'data-code="form_unreadable"' in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "ranges", ["bytes=99999999-", "bytes=0-1,2-3,4-5", "bytes=abc", "bytes=0-10"]
)
def test_the_site_from_the_app_answers_a_range_with_the_whole_file(
    issued: Issued, tmp_path: Path, ranges: str
) -> None:
    """As the front does (max_ranges 0): werkzeug answered 416 for a range past the end (the
    page said "upload one file…") and a multipart answer for several."""
    app = create_app(verifier_config(issued, tmp_path, site_dir=str(issued.published)))
    resp = app.test_client().get("/index.html", headers={"Range": ranges})
    whole = (issued.published / "index.html").read_bytes()
    assert resp.status_code == 200 and resp.get_data() == whole
    assert "Content-Range" not in resp.headers
