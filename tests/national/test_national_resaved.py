"""A re-saved copy of a school's listed document, through the national verifier: named from the
list of the school whose key made the kept signature (never another school's), judged as the
original would be (the key as of the issuance, the school's standing), and refused for the same
reasons when that school's list cannot be trusted; every answer keeps the API contract."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.evaluators.test_resaved_copies import with_pikepdf, with_pypdf, with_qpdf
from tests.federation.test_federation_operator import rotate
from tests.national.conftest import PUBLISHED, National, Schools
from tests.national.test_national_verifier import check, codes

Resave = Callable[[bytes, Path], bytes]
NAMES = {
    "NKUST": "National Kaohsiung University of Science and Technology",
    "NTCU": "National Taichung University of Education",
    "NTHU": "National Tsing Hua University",
}


@pytest.mark.parametrize("resave", [with_qpdf, with_pikepdf, with_pypdf], ids=lambda f: f.__name__)
def test_a_copy_is_named_from_its_own_schools_list(
    resave: Resave, national: National, schools: Schools, tmp_path: Path
) -> None:
    national.publish()
    client = national.app()
    for code, name in NAMES.items():
        body = national.verify(resave(schools.docs[code]["genuine"], tmp_path), client)
        assert body["http"] == 200 and body["result"] == "failure", body
        assert codes(body) == ["resaved_copy", "not_issued"], body
        message = body["reasons"][0]["message"]
        # The only Chinese diploma each school listed that day: its number, from the copy's
        # own twin, with the school and the date from the school's signed list.
        assert f"re-saved copy of the Chinese diploma {code}-DZ-" in message, message
        assert f"issued by {name} on " in message
        assert all(other not in message for other in NAMES.values() if other != name)
        status = check(body, "status_list")
        assert (
            status["status"] == "failed"
            and f"status list version 1 of {name}" in (status["detail"])
        )
        # As for the original: the key judged as of the issuance, the entry in the school's log.
        assert check(body, "trust_list")["status"] == "passed"
        assert f"signed with a key of {name}" in check(body, "trust_list")["detail"]
        assert check(body, "transparency_log")["status"] == "passed"
        assert check(body, "document_state")["status"] == "passed"
        # Nothing of the named document beside a file that may be another one.
        document = body["document"]
        assert document["type"] is None and document["issuer_code"] is None, document
    # The copies counted nothing, and the originals still verify.
    for code in NAMES:
        assert national.verify(schools.docs[code]["genuine"], client)["result"] == "success"


def test_a_copy_in_chinese(national: National, schools: Schools, tmp_path: Path) -> None:
    national.publish()
    body = (
        national.app()
        .post(
            "/api/v1/verify?lang=zh-TW",
            data=with_qpdf(schools.docs["NTCU"]["genuine"], tmp_path),
            content_type="application/pdf",
        )
        .get_json()
    )
    message = body["reasons"][0]["message"]
    assert "國立臺中教育大學於" in message and "中文學位證書" in message, message
    assert "經另存後的副本" in message and "原始附件" in message


H = dt.timedelta(hours=1)


def _rotated(national: National) -> None:
    """NTHU's key replaced the day before it signed: not valid at issuance."""
    rotate(national.federation, "NTHU", NOW - dt.timedelta(days=1))


def _compromised_before(national: National) -> None:
    at = NOW - dt.timedelta(days=1)
    rotate(national.federation, "NTHU", at, revoked_at=at, reason="key_compromise")


def _compromised_unlogged(national: National) -> None:
    """After the issuance, but before the school's log first held the document."""
    at = PUBLISHED - H / 2
    rotate(national.federation, "NTHU", at, revoked_at=at, reason="key_compromise")


def _compromised_logged(national: National) -> None:
    """After the log held the document: the issuance is proven to come first."""
    at = PUBLISHED + H / 6
    rotate(national.federation, "NTHU", at, revoked_at=at, reason="key_compromise")


def _suspended_since(national: National) -> None:
    national.set_state("NTHU", "suspended", PUBLISHED)


def _suspended_then(national: National) -> None:
    national.set_state("NTHU", "suspended", NOW - dt.timedelta(days=1))


def _merged(national: National) -> None:
    national.set_state("NTHU", "merged", PUBLISHED, successor="NKUST")


@pytest.mark.parametrize(
    ("change", "judged"),
    [
        (_rotated, ["key_not_valid_at_issuance"]),
        (_compromised_before, ["key_compromised"]),
        (_compromised_unlogged, ["key_compromised"]),
        (_compromised_logged, []),
        (_suspended_since, ["school_suspended"]),
        (_suspended_then, ["school_not_active"]),
        (_merged, []),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_a_copy_reads_no_better_than_its_original(
    change: Callable[[National], None],
    judged: list[str],
    national: National,
    schools: Schools,
    tmp_path: Path,
) -> None:
    """Whatever the trust list says of the original (its key at issuance, its school), the
    copy says too: "ask for the original" must not suggest an original that would pass."""
    change(national)
    national.publish()
    client = national.app()
    original = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert codes(original) == judged, original
    copy = national.verify(with_qpdf(schools.docs["NTHU"]["genuine"], tmp_path), client)
    assert copy["result"] == "failure"
    assert codes(copy) == ["resaved_copy", "not_issued", *judged], copy
    assert "re-saved copy of the Chinese diploma NTHU-DZ-" in copy["reasons"][0]["message"]
    assert check(copy, "trust_list") == check(original, "trust_list")
    messages = {r["code"]: r["message"] for r in copy["reasons"]}
    assert all(messages[r["code"]] == r["message"] for r in original["reasons"])


def test_a_copy_whose_schools_list_is_signed_by_another_school(
    national: National, schools: Schools, tmp_path: Path
) -> None:
    """NTHU's list signed with NKUST's key: nothing is named from it or from NKUST's list, and
    the copy is refused for the reason the original is."""
    national.publish()
    status = national.www / "NTHU" / "status"
    shutil.rmtree(status)
    shutil.copytree(national.www / "NKUST" / "status", status)
    client = national.app()
    original = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert codes(original) == ["status_list_of_another_school"], original
    copy = national.verify(with_pikepdf(schools.docs["NTHU"]["genuine"], tmp_path), client)
    assert codes(copy) == ["resaved_copy", "status_list_of_another_school"], copy
    assert copy["http"] == 200
    assert (
        "re-saved copy of a document signed by National Tsing Hua University"
        in (copy["reasons"][0]["message"])
    )
    assert check(copy, "status_list") == check(original, "status_list")


def _print_locked(pdf: bytes, tmp: Path) -> bytes:
    """The school's diploma locked against printing as transcripts are (qpdf keeps the
    signature: its value is never encrypted)."""
    src, out = tmp / "open.pdf", tmp / "locked.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        ["qpdf", "--encrypt", "", "owner-not-secret", "256", "--print=none", "--", str(src),
         str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


def test_a_print_locked_copy_whose_signature_pypdf_damaged(
    national: National, schools: Schools, tmp_path: Path
) -> None:
    """pypdf re-saving a print-locked document decrypts its signature value into noise: the
    national answer says so in plain words, as a school's verifier does, not "damaged PDF"."""
    national.publish()
    client = national.app()
    locked = _print_locked(schools.docs["NKUST"]["genuine"], tmp_path)
    kept: dict[str, Any] = national.verify(with_qpdf(locked, tmp_path), client)
    assert codes(kept) == ["resaved_copy", "not_issued"], kept
    body = national.verify(with_pypdf(locked, tmp_path), client)
    assert body["http"] == 200 and body["result"] == "failure"
    assert codes(body) == ["signature_damaged", "not_issued"], body
    assert "digital signature can no longer be read" in body["reasons"][0]["message"]
    assert check(body, "pdf_structure")["status"] == "passed"
    assert check(body, "signature")["detail"].startswith("one signature, whose value")
