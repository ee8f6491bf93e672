"""The answer's JSON is rendered from parts rendered once (``Verification.to_json``): it must be
byte for byte what ``json.dumps`` makes of ``to_dict``, for every kind of answer, in both
languages and any time zone, the first time and from the cache."""

from __future__ import annotations

import datetime as dt

from tests.conftest import NOW, Issued
from verifier.engine import Verifier
from verifier.result import Check, Reason, Verification, dumps


def _answers(engine: Verifier, issued: Issued) -> list[Verification]:
    genuine = issued.paths["genuine"].read_bytes()
    tampered = bytearray(genuine)
    tampered[len(tampered) // 2] ^= 0x01
    later = NOW + dt.timedelta(hours=4)
    files = [
        genuine,
        genuine,  # counted again
        issued.paths["superseded"].read_bytes(),
        issued.paths["revoked"].read_bytes(),
        issued.paths["successor"].read_bytes(),
        issued.paths["transcript"].read_bytes(),
        bytes(tampered),
        b"",
        b"PK\x03\x04 not a pdf",
        b"%PDF-1.7\n garbage",
    ]
    answers = [engine.verify(f, later) for f in files]
    # A stale list: the same documents, long after the timestamp expired.
    answers += [engine.verify(f, later + dt.timedelta(days=30)) for f in files[:4]]
    return answers


def test_to_json_is_dumps_of_to_dict_for_every_answer(engine: Verifier, issued: Issued) -> None:
    answers = _answers(engine, issued)
    codes = {c for a in answers for c in a.codes}
    assert {"revoked", "superseded", "signature_invalid", "status_stale"} <= codes
    assert any(a.twin is not None for a in answers)
    for _ in range(2):  # rendered, then from the cache
        for answer in answers:
            for lang in ("en", "zh-TW"):
                for zone in ("Asia/Taipei", "Europe/Berlin"):
                    assert answer.to_json(lang, zone) == dumps(answer.to_dict(lang, zone))


def test_values_equal_as_keys_but_not_as_json_are_not_confused() -> None:
    # True == 1 and hash(True) == hash(1): a cache keyed by value alone would answer one with
    # the other's text.
    for first, second in ((1, True), (True, 1), (1.0, 1), ("1", 1)):
        a = Verification((Check("size", "passed", "size_ok", {"size": first}),), ())
        b = Verification((Check("size", "passed", "size_ok", {"size": second}),), ())
        assert a.to_json("en") == dumps(a.to_dict("en"))
        assert b.to_json("en") == dumps(b.to_dict("en"))
    r = Verification((), (Reason("revoked", {"reason": ["a", "list"]}),))
    assert r.to_json("en") == dumps(r.to_dict("en"))
