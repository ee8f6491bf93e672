"""Hostile HTTP, as an outside tester sends it, through the deployment (nginx before gunicorn,
``verifier.front``) and against the Flask app: every answer is the verifier's own, in its
contract, and one client's odd request never costs another client its answer.

Every wait is bounded by a socket timeout; nothing asserts a duration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import Issued
from tests.verifier.test_front import NGINX, answer, raw, start
from verifier.front import Served

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
