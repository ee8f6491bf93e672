"""Evaluators' fixtures: a verifier with a receipt key, on a real server on 127.0.0.1, and
helpers that post several files in one multipart request."""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Issued
from tests.verifier.conftest import LiveServer, engine_over, verifier_config
from verifier.app import create_app
from verifier.engine import Verifier
from verifier.receipt import new_receipt_key


@dataclass(frozen=True)
class ReceiptKey:
    key: Path
    cert: Path


@pytest.fixture(scope="session")
def receipt_key(tmp_path_factory: pytest.TempPathFactory) -> ReceiptKey:
    """The verifier's receipt key: a generated test fixture, never committed."""
    key, cert = new_receipt_key(
        tmp_path_factory.mktemp("receipt") / "keys",
        "verify.example.edu.tw",
        NOW - dt.timedelta(days=1),
    )
    return ReceiptKey(key, cert)


@pytest.fixture
def live_receipts(issued: Issued, tmp_path: Path, receipt_key: ReceiptKey) -> Iterator[LiveServer]:
    cfg = verifier_config(
        issued,
        tmp_path,
        receipt_key=str(receipt_key.key),
        receipt_cert=str(receipt_key.cert),
        receipt_name="verify.example.edu.tw",
        batch_max_files=12,
        batch_max_bytes=4 * 1024 * 1024,
    )
    server = LiveServer(create_app(cfg))
    yield server
    server.stop()


def post_files(
    url: str,
    files: list[tuple[str, bytes]],
    fields: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One multipart request with a ``file`` part per file."""
    boundary = "----certseal-evaluators"
    body = io.BytesIO()
    for k, v in (fields or {}).items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        )
    for name, data in files:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(
        url,
        data=body.getvalue(),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def make_zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, method)
    return buf.getvalue()


@pytest.fixture
def engine(issued: Issued, tmp_path: Path) -> Verifier:
    """The verification engine alone, over the session authority's published folder."""
    return engine_over(issued, tmp_path)


@pytest.fixture
def live(issued: Issued, tmp_path: Path) -> Iterator[LiveServer]:
    """A verifier without a receipt key."""
    server = LiveServer(create_app(verifier_config(issued, tmp_path)))
    yield server
    server.stop()
