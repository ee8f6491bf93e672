"""Status list at national scale: 3,000,000 documents (synthetic hashes, realistic states).

Measures the full publish, a 1,000-change publish, the verifier's memory and lookup time with
the list loaded, and the bytes the browser's no-upload check downloads for one file. Baseline
in the same run: the naive design, one flat signed JSON list of every document.

    .venv/bin/python bench/national.py [--documents 3000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from authority.service import write_publication  # noqa: E402
from bench.common import emit, percentile, rss_mb, table, timed  # noqa: E402
from certseal.canonical import canonical_bytes  # noqa: E402
from certseal.pki import sign_raw  # noqa: E402
from certseal.statuslist import (  # noqa: E402
    Entry,
    Issuer,
    build_publication,
    build_shards,
    update_publication,
)
from verifier.status import folder_fetcher  # noqa: E402

T0 = dt.datetime(2026, 6, 22, tzinfo=dt.UTC)
ISSUER = Issuer("NATION", "全國示範平台", "National Demonstration Platform")
TYPES = ("diploma_zh", "diploma_en", "transcript", "rank_certificate", "degree_certificate_en")


def synthetic(n: int, seed: int = 1) -> list[Entry]:
    """n documents: 4% superseded, 0.5% revoked, the rest active; issue times spread over a year."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        sha = hashlib.sha256(b"doc-%d" % i).hexdigest()
        t = (T0 - dt.timedelta(seconds=rnd.randrange(365 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
        kind = TYPES[i % 5]
        limit = None if kind.startswith("diploma") else 3
        r = rnd.random()
        if r < 0.04:
            succ = hashlib.sha256(b"succ-%d" % i).hexdigest()
            out.append(Entry(sha, kind, t, limit, "superseded", successor=succ, superseded_at=t))
        elif r < 0.045:
            out.append(Entry(sha, kind, t, limit, "revoked", reason_code="degree_revoked", revoked_at=t))
        else:
            out.append(Entry(sha, kind, t, limit, "active"))
    return out


def verifier_probe(folder: Path, hashes: list[str]) -> dict[str, float]:
    """In a fresh process: load the list as the verifier does, look hashes up, report memory."""
    code = f"""
import datetime as dt, json, resource, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from certseal.pki import key_id
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from certseal.statuslist import load_trusted
from verifier.status import StatusSource, IssuerTrust
from verifier.counter import Counter
import verifier.status as vs
pub = load_pem_public_key(open({str(folder / "key.pem")!r}, "rb").read())
hashes = json.load(open({str(folder / "probe.json")!r}))
src = StatusSource.__new__(StatusSource)
vs.StatusSource.__init__(src, IssuerTrust("n", (), (), {str(folder)!r}), Counter(__import__("pathlib").Path({str(folder / "c.sqlite")!r})), refresh_seconds=1e9)
src.trust = type("T", (), {{"name": "n", "status_key": staticmethod(lambda k: pub if k == key_id(pub) else None), "source": ""}})()
t = time.perf_counter(); state = src.current(dt.datetime(2026, 6, 23, tzinfo=dt.UTC)); load = time.perf_counter() - t
cold, warm = [], []
for h in hashes:
    t = time.perf_counter(); e = src.lookup(state, h); cold.append(time.perf_counter() - t)
    assert e is not None
for h in hashes:
    t = time.perf_counter(); src.lookup(state, h); warm.append(time.perf_counter() - t)
cold.sort(); warm.sort()
print(json.dumps({{"load_s": load, "cold_p50_ms": cold[len(cold)//2]*1e3, "cold_p99_ms": cold[int(len(cold)*.99)]*1e3,
  "warm_p50_ms": warm[len(warm)//2]*1e3, "warm_p99_ms": warm[int(len(warm)*.99)]*1e3,
  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def flat_baseline(entries: list[Entry], key: ec.EllipticCurvePrivateKey, folder: Path) -> dict[str, float]:
    """The naive design: one signed JSON list of every entry."""
    f: dict[str, float] = {}
    with timed(f, "publish_s"):
        body = {"version": 1, "entries": [e.to_dict() for e in entries]}
        data = canonical_bytes({"signed": body, "signature": sign_raw(key, canonical_bytes(body))})
        (folder / "flat.json").write_bytes(data)
    f["bytes_per_check"] = len(data)
    code = f"""
import json, resource, time
t = time.perf_counter(); d = json.load(open({str(folder / "flat.json")!r}, "rb"))
index = {{e["sha256"]: e for e in d["signed"]["entries"]}}
print(json.dumps({{"load_s": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    f.update({f"verifier_{k}": v for k, v in json.loads(res.stdout).items()})
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--documents", type=int, default=3_000_000)
    ap.add_argument("--changes", type=int, default=1_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-national-"))
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    (work / "key.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    f: dict[str, float] = {}
    try:
        with timed(f, "generate_s"):
            entries = synthetic(args.documents)
        out = work / "site"
        with timed(f, "full_publish_s"):
            built = build_publication(
                build_shards(entries, 4), issuer=ISSUER, version=1, issued_at=T0,
                expires=T0 + dt.timedelta(days=7), key=key,
            )
            files_written = write_publication(out, built)
            (out / "status" / "timestamp.json").write_bytes(built.files["timestamp.json"])
        rnd = random.Random(2)
        changed = []
        for e in rnd.sample(entries, args.changes // 2):
            changed.append(Entry(e.sha256, e.doc_type, e.issued_at, e.limit, "revoked",
                                 successor=e.successor, superseded_at=e.superseded_at,
                                 reason_code="issued_in_error", revoked_at="2026-06-23T00:00:00Z"))
        for i in range(args.changes - len(changed)):
            changed.append(Entry(hashlib.sha256(b"new-%d" % i).hexdigest(), "diploma_zh",
                                 "2026-06-23T00:00:00Z", None, "active"))
        with timed(f, "change_publish_s"):
            built2 = update_publication(
                built.snapshot, folder_fetcher(out), changed, version=2,
                issued_at=T0 + dt.timedelta(days=1), expires=T0 + dt.timedelta(days=8), key=key,
            )
            write_publication(out, built2)
            (out / "status" / "timestamp.json").write_bytes(built2.files["timestamp.json"])
        snap = built2.snapshot
        shard_sizes = [len(v) for p, v in built.files.items() if p.startswith("shards/")]
        bucket_sizes = [len(v) for p, v in built.files.items() if p.startswith("buckets/")]
        ts = len(built2.files["timestamp.json"])
        snap_bytes = len(built2.files["snapshot/2.json"])
        browser = ts + snap_bytes + max(bucket_sizes) + max(shard_sizes)
        probe = [e.sha256 for e in rnd.sample(entries, 2000)]
        (work / "probe.json").write_text(json.dumps(probe))
        shutil.copy(work / "key.pem", out / "key.pem")
        shutil.copy(work / "probe.json", out / "probe.json")
        v = verifier_probe(out, probe)
        base = flat_baseline(entries, key, work)
        rows = [
            ("full publish (s)", f["full_publish_s"], base["publish_s"], "≤ 60"),
            (f"{args.changes:,}-change publish (s)", f["change_publish_s"], base["publish_s"], "≤ 5"),
            ("verifier RSS with list loaded (MB)", v["rss_mb"], base["verifier_rss_mb"], "≤ 300"),
            ("verifier load time (s)", v["load_s"], base["verifier_load_s"], ""),
            ("lookup, first time p50 (ms)", v["cold_p50_ms"], "", "≤ 1"),
            ("lookup, first time p99 (ms)", v["cold_p99_ms"], "", ""),
            ("lookup, cached p50 (ms)", v["warm_p50_ms"], "", "≤ 1"),
            ("bytes downloaded per browser check", browser, base["bytes_per_check"], "≤ 65,536"),
        ]
        print(f"documents: {args.documents:,}  shards: {len(shard_sizes):,}  buckets: {len(bucket_sizes)}"
              f"  files written by the full publish: {files_written:,}")
        table("Status list at national scale (ours vs. one flat signed list)",
              ("figure", "ours", "flat list", "target"), rows)
        print(f"  browser check: timestamp {ts:,} B + snapshot {snap_bytes:,} B + bucket ≤ "
              f"{max(bucket_sizes):,} B + shard ≤ {max(shard_sizes):,} B")
        emit("national", {
            "documents": args.documents, "changes": args.changes, **f,
            "verifier": v, "browser_bytes": browser, "counts": dict(snap.counts),
            "baseline_flat": base,
            "ratio_publish_vs_flat": f["full_publish_s"] / base["publish_s"],
            "ratio_bytes_vs_flat": browser / base["bytes_per_check"],
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.nice(0)
    main()
