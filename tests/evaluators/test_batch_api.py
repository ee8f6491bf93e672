"""POST /api/v1/verify/batch over a real server: each file answered as a single upload would be,
ZIP files opened as containers, receipts on request; every answer checked against openapi.yaml."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from certseal.pki import load_certificates
from certseal.receipt import check_receipt
from tests.conftest import Issued
from tests.evaluators.conftest import ReceiptKey, make_zip, post_files
from tests.verifier.conftest import LiveServer
from tests.verifier.test_api import post

SPEC = yaml.safe_load(Path("verifier/openapi.yaml").read_text())


def schema(name: str) -> dict[str, Any]:
    return {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}


def tampered(pdf: bytes) -> bytes:
    data = bytearray(pdf)
    data[len(data) // 2] ^= 0x01
    return bytes(data)


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """A verification without what differs between two requests (the count's number)."""
    return {k: answer[k] for k in ("result", "reasons", "checks", "document", "status_list")}


def test_each_file_gets_the_single_answer(live_receipts: LiveServer, issued: Issued) -> None:
    roles = ["genuine", "revoked", "superseded"]
    files = [(f"{r}.pdf", issued.pdf(r)) for r in roles] + [
        ("bad.pdf", tampered(issued.pdf("genuine")))
    ]
    status, body = post_files(live_receipts.url + "/api/v1/verify/batch", files, {"lang": "en"})
    assert status == 200
    jsonschema.validate(body, schema("BatchVerification"))
    assert [f["name"] for f in body["files"]] == [n for n, _ in files]
    for (name, data), got in zip(files, body["files"], strict=True):
        _, single = post(live_receipts.url + "/api/v1/verify", data, {"lang": "en"})
        assert comparable(got) == comparable(single), name
        assert got["size"] == len(data)
    assert body["summary"] == {"success": 1, "warning": 1, "failure": 2}
    assert body["result"] == "failure"
    assert body["reasons"] == []


def test_batch_counts_toward_the_limit_as_singles_do(
    live_receipts: LiveServer, issued: Issued
) -> None:
    """The transcript allows 3 verifications: four copies in one batch give 3 + 1 warning."""
    pdf = issued.pdf("transcript")
    status, body = post_files(
        live_receipts.url + "/api/v1/verify/batch", [(f"t{i}.pdf", pdf) for i in range(4)]
    )
    assert status == 200
    assert [f["result"] for f in body["files"]] == ["success"] * 3 + ["warning"]
    assert body["files"][3]["reasons"][0]["code"] == "verification_limit_reached"
    _, single = post(live_receipts.url + "/api/v1/verify", pdf)
    assert single["reasons"][0]["code"] == "verification_limit_reached"


def test_a_zip_in_a_batch_is_a_folder_of_documents(
    live_receipts: LiveServer, issued: Issued
) -> None:
    archive = make_zip(
        [
            ("docs/genuine.pdf", issued.pdf("genuine")),
            ("docs/revoked.pdf", issued.pdf("revoked")),
            ("__MACOSX/docs/._genuine.pdf", b"\x00\x05\x16\x07"),
        ]
    )
    status, body = post_files(
        live_receipts.url + "/api/v1/verify/batch",
        [("docs.zip", archive), ("successor.pdf", issued.pdf("successor"))],
    )
    assert status == 200
    assert [(f["name"], f["result"]) for f in body["files"]] == [
        ("docs.zip/docs/genuine.pdf", "success"),
        ("docs.zip/docs/revoked.pdf", "failure"),
        ("successor.pdf", "success"),
    ]
    # The single check still answers "extract it first" for the same ZIP.
    _, single = post(live_receipts.url + "/api/v1/verify", archive)
    assert single["reasons"][0]["code"] == "zip_archive"


def test_batch_receipt_lists_every_file(
    live_receipts: LiveServer, issued: Issued, receipt_key: ReceiptKey
) -> None:
    files = [("a.pdf", issued.pdf("genuine")), ("b.pdf", issued.pdf("revoked"))]
    status, body = post_files(
        live_receipts.url + "/api/v1/verify/batch", files, {"receipt": "1", "lang": "zh-TW"}
    )
    assert status == 200
    jsonschema.validate(body, schema("BatchVerification"))
    raw = json.dumps(body["receipt"], ensure_ascii=False).encode()
    cert = load_certificates(receipt_key.cert.read_bytes())
    r = check_receipt(raw, certificates=cert).receipt
    assert r.verifier == "verify.example.edu.tw"
    assert [(f.name, f.sha256, f.result) for f in r.files] == [
        ("a.pdf", hashlib.sha256(files[0][1]).hexdigest(), "success"),
        ("b.pdf", hashlib.sha256(files[1][1]).hexdigest(), "failure"),
    ]
    assert r.files[1].reasons[0].code == "revoked"
    assert "voided" in r.files[1].reasons[0].en and "作廢" in r.files[1].reasons[0].zh
    assert [s["version"] for s in r.status_lists] == [body["files"][0]["status_list"]["version"]]


def test_single_check_with_a_receipt(
    live_receipts: LiveServer, issued: Issued, receipt_key: ReceiptKey
) -> None:
    status, body = post(
        live_receipts.url + "/api/v1/verify", issued.pdf("genuine"), {"receipt": "1"}
    )
    assert status == 200
    jsonschema.validate(body, schema("Verification"))
    cert = load_certificates(receipt_key.cert.read_bytes())
    r = check_receipt(json.dumps(body["receipt"]).encode(), certificates=cert).receipt
    assert [(f.name, f.result) for f in r.files] == [("d.pdf", "success")]
    assert "receipt" not in post(live_receipts.url + "/api/v1/verify", issued.pdf("genuine"))[1]


def test_receipt_certificate_is_published(
    live_receipts: LiveServer, receipt_key: ReceiptKey
) -> None:
    with urllib.request.urlopen(live_receipts.url + "/api/v1/receipt-certificate") as resp:
        assert resp.read() == receipt_key.cert.read_bytes()


def test_receipt_without_a_key_is_refused_before_counting(live: LiveServer, issued: Issued) -> None:
    """A verifier without a receipt key says so, and does not use up a verification."""
    pdf = issued.pdf("transcript")
    for url in ("/api/v1/verify", "/api/v1/verify/batch"):
        status, body = post_files(live.url + url, [("t.pdf", pdf)], {"receipt": "1"})
        assert status == 400
        assert [r["code"] for r in body["reasons"]] == ["receipt_unavailable"]
        jsonschema.validate(body, schema("Verification"))
    status, body = post_files(live.url + "/api/v1/verify/batch", [("t.pdf", pdf)] * 3)
    assert [f["result"] for f in body["files"]] == ["success"] * 3
