"""Long-term validation cost per PAdES profile: document size, issuance time and verification
time, interleaved (B-B, B-T, B-LT, B-LTA, then again), each as a ratio to B-B measured in the
same run. Against a local certomancer TSA/OCSP/CRL on 127.0.0.1 (tests/ltv/pki.py).

    .venv/bin/python -m bench.ltv [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from authority.ltv import extend_timestamp, extension_services
from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, make_authority
from tests.ltv.conftest import configure
from tests.ltv.pki import live_pki
from tests.verifier.conftest import verifier_config
from verifier.config import VerifierConfig
from verifier.counter import Counter
from verifier.engine import Limits, build_verifier
from verifier.status import IssuerTrust

PROFILES = ("B-B", "B-T", "B-LT", "B-LTA")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-ltv-"))
    home = base / "home"
    make_authority(home)
    issue_s: dict[str, list[float]] = {p: [] for p in PROFILES}
    sizes: dict[str, int] = {}
    files: dict[str, bytes] = {}
    with live_pki(base / "pki") as pki, Authority(home) as auth:
        students = iter(auth.registry.student_ids())
        producers = {}
        for p in PROFILES:
            configure(home, pki, p)
            producers[p] = Producer(auth.keys_dir, PASSPHRASE)
        for _ in range(args.rounds):
            for p in PROFILES:  # interleaved: A B C D A B C D
                sid = next(students)
                auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
                start = time.perf_counter()
                rep = auth.issue(
                    [IssueRequest("diploma_zh", sid)], now=NOW, actor=ACTOR, produce=producers[p]
                )
                issue_s[p].append(time.perf_counter() - start)
                files[p] = (home / rep.issued[0].path).read_bytes()
                sizes[p] = len(files[p])
        configure(home, pki, "B-LTA")
        files["B-LTA extended"] = extend_timestamp(files["B-LTA"], extension_services(home))
        auth.publish(base / "pub", PASSPHRASE, now=NOW, actor=ACTOR)
    cfg = VerifierConfig.from_dict(
        verifier_config(type("I", (), {"home": home, "published": base / "pub"})(), base)
    )
    trust = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source)
        for i in cfg.issuers
    ]
    engine = build_verifier(trust, Counter(cfg.counts_db), Limits())
    verify_s: dict[str, list[float]] = {k: [] for k in files}
    for _ in range(args.rounds):
        for k, pdf in files.items():
            start = time.perf_counter()
            result = engine.verify(pdf, NOW)
            verify_s[k].append(time.perf_counter() - start)
            assert result.result in ("success", "warning"), (k, result.codes)
    b_issue = statistics.median(issue_s["B-B"])
    b_verify = statistics.median(verify_s["B-B"])
    out = {
        p: {
            "bytes": sizes[p],
            "issue_ms": round(statistics.median(issue_s[p]) * 1000, 1),
            "issue_ratio": round(statistics.median(issue_s[p]) / b_issue, 2),
        }
        for p in PROFILES
    }
    for k, times in verify_s.items():
        out.setdefault(k, {})["verify_ms"] = round(statistics.median(times) * 1000, 2)
        out[k]["verify_ratio"] = round(statistics.median(times) / b_verify, 2)
    out["B-LTA extended"]["bytes"] = len(files["B-LTA extended"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
