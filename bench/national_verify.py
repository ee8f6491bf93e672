"""The national verifier's answer with many schools: a real operator admits ``--schools`` real
schools (each an authority that issued and published real diplomas), their sites and the
trust list are served over HTTP on 127.0.0.1, and one verifier answers for all of them.

Measured in process (the engine's answer, no HTTP server), for the diploma of the first,
the middle and the last school the trust list names: its first answer, then its answers
again, interleaved (A B A B) with the same school's diploma answered by a verifier of that one
school (the baseline: the answer without the federation).

    .venv/bin/python -m bench.national_verify [--schools 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import http.server
import logging
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import emit, table
from bench.issuance import PASSPHRASE, generate_csv

ROUNDS = 7
REPEATS = 200


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _schools(work: Path, n: int, now: dt.datetime) -> dict[str, tuple[Path, bytes]]:
    """n authorities, each with one issued, published diploma: code -> (home, diploma)."""
    from authority.config import DEMO_SCHOOL
    from authority.production import Producer
    from authority.service import Authority, IssueRequest, init_authority

    out = {}
    for i in range(n):
        code = f"S{i:03d}"
        school = dataclasses.replace(
            DEMO_SCHOOL,
            code=code,
            name_zh=f"示範大學{i:03d}",
            name_en=f"Demonstration University {i:03d}",
            verify_url=f"https://verify.{code.lower()}.edu.tw/",
        )
        home = work / "schools" / code
        init_authority(home, school, PASSPHRASE, now - dt.timedelta(days=10))
        with Authority(home) as auth:
            auth.import_records("graduates", generate_csv(1), now=now, actor="bench", source="b")
            student = auth.registry.student_ids()[0]
            auth.registry.record_collection(student, "diploma_zh", now.date(), at=now, actor="b")
            report = auth.issue(
                [IssueRequest("diploma_zh", student)],
                now=now,
                actor="bench",
                produce=Producer(auth.keys_dir, PASSPHRASE),
            )
            auth.publish(work / "www" / code, PASSPHRASE, now=now, actor="bench")
            doc = auth.registry.document(report.issued[0].doc_id)
            out[code] = (home, (home / doc.path).read_bytes())
    return out


def _operator(
    work: Path, schools: dict[str, tuple[Path, bytes]], url: str, now: dt.datetime
) -> Path:
    """The operator's home, every school admitted, the trust list published into www/."""
    from authority.onboarding import prepare_request
    from authority.service import Authority
    from federation.operator import Operator, init_operator

    home = work / "operator"
    start = now - dt.timedelta(days=1)
    names = init_operator(home, "trust.example.tw/trust/log", PASSPHRASE, start)
    with Operator(home) as op:
        roots = op.signers(names, dict.fromkeys(names, PASSPHRASE))
        online = op.online_key(PASSPHRASE)
        for i, (code, (school_home, _)) in enumerate(schools.items()):
            with Authority(school_home) as auth:
                school = auth.school
            at = start + dt.timedelta(minutes=i + 1)
            request = prepare_request(
                school_home / "keys",
                PASSPHRASE,
                school,
                domains=[f"{code.lower()}.edu.tw"],
                status_list_url=f"{url}/{code}/status/",
                log_url=f"{url}/{code}/log/",
                now=at,
            ).data
            op.accept_request(request, now=at, signers=roots[:2], online=online)
        op.refresh(now=now, online=online)
        op.publish(work / "www")
    return home


def _per_answer(verify: Any, data: bytes, now: dt.datetime) -> float:
    t0 = time.perf_counter()
    for _ in range(REPEATS):
        verify(data, now)
    return (time.perf_counter() - t0) / REPEATS * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--schools", type=int, default=60)
    args = ap.parse_args()
    from certseal.trustlist import metadata_path
    from verifier.app import create_app

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-national-verify-"))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(work / "www"))
    )
    (work / "www").mkdir()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        t0 = time.perf_counter()
        schools = _schools(work, args.schools, now)
        operator = _operator(work, schools, url, now)
        setup_s = time.perf_counter() - t0
        national = create_app(
            {
                "federation": {
                    "trust_list_url": f"{url}/trust/",
                    "root_pin": str(operator / "repo" / metadata_path("root", 1)),
                },
                "counts_db": str(work / "national.sqlite"),
            }
        ).extensions["certseal.verifier"]
        logging.getLogger("certseal").setLevel(logging.WARNING)  # a line per answer: not timed
        codes = list(schools)
        picked = {"first": codes[0], "middle": codes[len(codes) // 2], "last": codes[-1]}
        rows: list[tuple[object, ...]] = []
        figures: dict[str, Any] = {"schools": args.schools, "setup_s": round(setup_s, 1)}
        for label, code in picked.items():
            home, data = schools[code]
            one = create_app(
                {
                    "issuers": [
                        {
                            "name": code,
                            "trust_dir": str(home / "keys"),
                            "source": f"{url}/{code}",
                        }
                    ],
                    "counts_db": str(work / f"{code}.sqlite"),
                }
            ).extensions["certseal.verifier"]
            t = time.perf_counter()
            answer = national.verify(data, now)
            first = (time.perf_counter() - t) * 1e6
            if answer.result == "failure" or answer.document is None:
                raise SystemExit(f"{code}'s diploma was not verified nationally: {answer.codes}")
            if one.verify(data, now).codes != answer.codes:
                raise SystemExit(f"{code}'s own verifier answers otherwise: nothing to compare")
            nat, base = [], []
            for _ in range(ROUNDS):  # A B A B
                nat.append(_per_answer(national.verify, data, now))
                base.append(_per_answer(one.verify, data, now))
            n, b = statistics.median(nat), statistics.median(base)
            rows.append(
                (f"{label} school ({code})", round(first), round(n, 1), round(b, 1), f"{n / b:.2f}")
            )
            figures[label] = {"first_us": first, "again_us": n, "one_school_us": b}
        table(
            f"The national verifier with {args.schools} schools, in process (µs per answer)",
            ["diploma of the", "first answer", "again", "one school's verifier", "ratio"],
            rows,
        )
        print(f"  setup {setup_s:.0f} s")
        emit("national_verify", figures)
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
