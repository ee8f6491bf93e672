"""Files built to make the verifier spin end with a specific answer, through the real path: the
byte scan, the parse slots, a child process per parse, its CPU limit, its replacement.

The files come from bench/hostile_files.py (the benchmark and these tests share them). Nothing
here asserts a duration: each test asserts the reason and the limit that gave it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import hostile_files
from certseal.timeutil import utcnow
from tests.conftest import Issued
from tests.verifier import hostile
from tests.verifier.conftest import verifier_config
from verifier.config import VerifierConfig
from verifier.counter import Counter
from verifier.engine import Limits, Verifier, build_verifier
from verifier.isolation import ParseSlots
from verifier.status import IssuerTrust

# Each standalone hostile file, and the words of the limit that stops it.
STOPPED_BY: list[tuple[str, str]] = [
    ("objstm_quadratic", "1,500 objects in one object stream"),
    ("escaped_objstm", "1,500 objects in one object stream"),  # by the xref check, not the scan
    ("many_objstms", "cross-reference entries for 80,411 objects"),
    ("many_objects", "200,004 objects"),
    ("long_array", "one object of 4,000,021 bytes"),
    ("deep_nesting", "nested more than 32 levels deep"),
    ("deep_field_tree", "20,004 objects"),
    ("length_lie", "Stream ended prematurely"),
    ("decompression_bomb", "Decoded stream data exceeds the limit"),
    ("many_revisions", "3,001 revisions"),
    ("prev_chain", "1,001 revisions"),
    ("escaped_revisions", "301 revisions"),  # by the xref check, not the scan
    ("tokens_under_limits", "more than 1 s of processing time"),  # by the CPU limit alone
]


def _engine(issued: Issued, tmp_path: Path, **limits: object) -> Verifier:
    cfg = VerifierConfig.from_dict(verifier_config(issued, tmp_path))
    trust = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source)
        for i in cfg.issuers
    ]
    slots = {"slots_dir": tmp_path / "slots", "parse_slots": 1}
    return build_verifier(trust, Counter(cfg.counts_db), Limits(**{**slots, **limits}))  # type: ignore[arg-type]


@pytest.fixture
def engine(issued: Issued, tmp_path: Path) -> Verifier:
    return _engine(issued, tmp_path)


@pytest.mark.parametrize(("name", "words"), STOPPED_BY, ids=[s[0] for s in STOPPED_BY])
def test_hostile_file_is_malformed_by_its_limit(engine: Verifier, name: str, words: str) -> None:
    v = engine.verify(hostile_files.HOSTILE[name](), utcnow())
    assert v.codes == ("malformed_pdf",)
    checks = {c.name: c for c in v.checks}
    assert checks["pdf_structure"].status == "failed"
    assert words in checks["pdf_structure"].params["detail"]
    en, zh = (v.to_dict(lang)["reasons"][0]["message"] for lang in ("en", "zh-TW"))
    assert words in en and "損毀" in zh
    assert all(checks[n].status == "skipped" for n in ("signature", "status_list"))


def test_limits_are_said_in_both_languages(engine: Verifier) -> None:
    v = engine.verify(hostile_files.many_revisions(), utcnow())
    zh = v.to_dict("zh-TW")["reasons"][0]["message"]
    assert "共 3,001 個版本（增量更新），超過上限 16" in zh


def test_many_fields_within_the_limits_are_read_in_full(engine: Verifier) -> None:
    """4,900 objects in object streams of 980: within the limits, read to the end (no
    signature), where the quadratic reader took 11 s of CPU."""
    v = engine.verify(hostile_files.fields_under_limits(), utcnow())
    assert v.codes == ("no_signature", "not_issued")


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (hostile_files.junk_appended_to, "malformed_pdf", "1,500 objects in one object stream"),
        (lambda pdf: hostile_files.junk_appended_to(pdf, 900), "modified_after_signing", ""),
        (hostile_files.revisions_appended_to, "malformed_pdf", "302 revisions"),
        (lambda pdf: hostile_files.revisions_appended_to(pdf, 10), "modified_after_signing", ""),
    ],
    ids=["junk_1500", "junk_900", "revisions_300", "revisions_10"],
)
def test_junk_on_a_real_diploma(
    engine: Verifier, issued: Issued, make: Callable[[bytes], bytes], code: str, words: str
) -> None:
    """Over the limits: refused unread; within them: analysed in full, and found modified."""
    v = engine.verify(make(issued.pdf("genuine")), utcnow())
    assert code in v.codes, v.codes
    assert words in v.to_dict("en")["reasons"][0]["message"]


def test_genuine_files_pass_every_limit_on_the_full_path(engine: Verifier, issued: Issued) -> None:
    """An issued document parsed in the child (a listed one never is): every signature check
    passes, and only the byte added to make it unlisted is found."""
    unlisted = issued.pdf("genuine") + b"\n"
    v = engine.verify(unlisted, utcnow())
    checks = {c.name: c for c in v.checks}
    assert checks["pdf_structure"].detail == "parse_ok"
    assert checks["signature"].detail == "sig_one"
    assert checks["certificate_chain"].status == "passed"
    assert "modified_after_signing" in v.codes  # the byte after %%EOF


def test_a_parse_past_its_wall_time_is_killed_and_the_next_is_served(
    issued: Issued, tmp_path: Path
) -> None:
    """The parent's own bound: a child still at work after ``time_limit`` is killed, replaced,
    and the next file is read by its replacement."""
    engine = _engine(issued, tmp_path, time_limit=0.3, cpu_limit=60.0)
    v = engine.verify(hostile_files.tokens_under_limits(), utcnow())
    assert v.codes == ("malformed_pdf",)
    assert "took longer than 0.3 s" in v.to_dict("en")["reasons"][0]["message"]
    after = _engine(issued, tmp_path, time_limit=30.0)
    v = after.verify(hostile.byte_flipped_in_signed_range(issued.pdf("genuine")), utcnow())
    assert v.codes == ("signature_invalid", "not_issued")


def test_no_free_slot_is_busy_but_a_listed_file_is_answered(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    """Another process holds the service's only parse slot: an unlisted file is answered
    ``busy`` (503) without being read, a listed document as usual; once the slot is free the
    same unlisted file gets its own answer."""
    slots = ParseSlots(tmp_path / "slots", 1)
    hostile = hostile_files.worst_hostile_pdf()
    with slots.hold(0) as held:
        assert held
        refused = engine.verify(hostile, utcnow())
        genuine = engine.verify(issued.pdf("genuine"), utcnow())
    assert (refused.codes, refused.http_status) == (("busy",), 503)
    assert {c.name: c.detail for c in refused.checks}["pdf_structure"] == "parse_busy"
    assert "Try again" in refused.to_dict("en")["reasons"][0]["message"]
    assert "稍候" in refused.to_dict("zh-TW")["reasons"][0]["message"]
    assert (genuine.result, genuine.codes) == ("success", ())
    assert engine.verify(hostile, utcnow()).codes == ("malformed_pdf",)


def test_slots_are_shared_between_processes(tmp_path: Path) -> None:
    """A slot held through one open file is taken for every other, in any process."""
    slots = ParseSlots(tmp_path / "slots", 2)
    probe = (
        "import fcntl, os, sys\n"
        "taken = 0\n"
        "for name in ('slot-0', 'slot-1'):\n"
        "    fd = os.open(os.path.join(sys.argv[1], name), os.O_RDWR)\n"
        "    try:\n"
        "        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "    except BlockingIOError:\n"
        "        taken += 1\n"
        "print(taken)\n"
    )

    def taken_elsewhere() -> int:
        run = subprocess.run(
            [sys.executable, "-c", probe, str(slots.folder)], capture_output=True, check=True
        )
        return int(run.stdout)

    with slots.hold(0) as first, slots.hold(0) as second, slots.hold(0) as third:
        assert (first, second, third) == (True, True, False)
        assert taken_elsewhere() == 2
    assert taken_elsewhere() == 0
    with slots.hold(0) as again:
        assert again
