"""Status list at national scale: 3,000,000 documents (synthetic hashes, realistic states).

Measures the full publish, a 1,000-change publish, the verifier's memory and lookup time with
the list loaded, and the bytes the browser's no-upload check downloads for one file. Baseline
in the same run: the naive design, one flat signed JSON list of every document.

    .venv/bin/python -m bench.national [--documents 3000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authority.keys import issue_certificate
from authority.service import write_publication
from bench.common import emit, percentile, rss_mb, table, timed
from certseal.canonical import canonical_bytes
from certseal.fetch import published_fetcher
from certseal.pki import cert_pem as cert_pem_of
from certseal.pki import load_certificates, sign_raw
from certseal.statuslist import (
    Entry,
    Issuer,
    build_publication,
    build_shards,
    update_publication,
)

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
            out.append(
                Entry(sha, kind, t, limit, "revoked", reason_code="degree_revoked", revoked_at=t)
            )
        else:
            out.append(Entry(sha, kind, t, limit, "active"))
    return out


def _probe(folder: str, cert_pem: bytes, hashes: list[str], out: Any) -> None:
    """Runs in a fresh process: load the list as the verifier does, look hashes up."""
    from verifier.counter import Counter
    from verifier.status import IssuerTrust, StatusSource

    trust = IssuerTrust("bench", (), tuple(load_certificates(cert_pem)), folder)
    src = StatusSource(trust, Counter(Path(folder) / "counts.sqlite"), refresh_seconds=1e9)
    start = time.perf_counter()
    state = src.current(T0 + dt.timedelta(days=1, hours=1))
    load_s = time.perf_counter() - start
    assert state is not None, src.last_error
    cold, warm = [], []
    for timings in (cold, warm):
        for h in hashes:
            start = time.perf_counter()
            entry = src.lookup(state, h)
            timings.append((time.perf_counter() - start) * 1e3)
            assert entry is not None
    out.put(
        {
            "load_s": load_s,
            "cold_p50_ms": percentile(cold, 50),
            "cold_p99_ms": percentile(cold, 99),
            "warm_p50_ms": percentile(warm, 50),
            "warm_p99_ms": percentile(warm, 99),
            "rss_mb": rss_mb(),
        }
    )


def verifier_probe(folder: Path, cert_pem: bytes, hashes: list[str]) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_probe, args=(str(folder), cert_pem, hashes, out))
    proc.start()
    result: dict[str, float] = out.get(timeout=600)
    proc.join()
    return result


def _flat_probe(path: str, out: Any) -> None:
    start = time.perf_counter()
    with open(path, "rb") as f:
        doc = json.load(f)
    index = {e["sha256"]: e for e in doc["signed"]["entries"]}
    out.put({"load_s": time.perf_counter() - start, "rss_mb": rss_mb(), "n": len(index)})


def flat_baseline(
    entries: list[Entry], key: ec.EllipticCurvePrivateKey, folder: Path
) -> dict[str, float]:
    """The naive design: one signed JSON list of every entry."""
    f: dict[str, float] = {}
    with timed(f, "publish_s"):
        body = {"version": 1, "entries": [e.to_dict() for e in entries]}
        data = canonical_bytes({"signed": body, "signature": sign_raw(key, canonical_bytes(body))})
        (folder / "flat.json").write_bytes(data)
    f["bytes_per_check"] = len(data)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_flat_probe, args=(str(folder / "flat.json"), out))
    proc.start()
    f.update({f"verifier_{k}": v for k, v in out.get(timeout=600).items()})
    proc.join()
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--documents", type=int, default=3_000_000)
    ap.add_argument("--changes", type=int, default=1_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-national-"))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench status list")])
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    cert_pem = cert_pem_of(
        issue_certificate(
            subject=name,
            public_key=key.public_key(),
            issuer=None,
            issuer_key=key,
            not_before=T0 - dt.timedelta(days=1),
            not_after=T0 + dt.timedelta(days=3650),
            usage=usage,
            ca=False,
        )
    )
    f: dict[str, float] = {}
    try:
        with timed(f, "generate_s"):
            entries = synthetic(args.documents)
        out = work / "site"
        with timed(f, "full_publish_s"):
            built = build_publication(
                build_shards(entries, 4),
                issuer=ISSUER,
                version=1,
                issued_at=T0,
                expires=T0 + dt.timedelta(days=7),
                key=key,
            )
            files_written = write_publication(out, built)
            (out / "status" / "timestamp.json").write_bytes(built.files["timestamp.json"])
        rnd = random.Random(2)
        changed = []
        for e in rnd.sample(entries, args.changes // 2):
            changed.append(
                Entry(
                    e.sha256,
                    e.doc_type,
                    e.issued_at,
                    e.limit,
                    "revoked",
                    successor=e.successor,
                    superseded_at=e.superseded_at,
                    reason_code="issued_in_error",
                    revoked_at="2026-06-23T00:00:00Z",
                )
            )
        for i in range(args.changes - len(changed)):
            changed.append(
                Entry(
                    hashlib.sha256(b"new-%d" % i).hexdigest(),
                    "diploma_zh",
                    "2026-06-23T00:00:00Z",
                    None,
                    "active",
                )
            )
        with timed(f, "change_publish_s"):
            built2 = update_publication(
                built.snapshot,
                published_fetcher(str(out), "status"),
                changed,
                version=2,
                issued_at=T0 + dt.timedelta(days=1),
                expires=T0 + dt.timedelta(days=8),
                key=key,
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
        v = verifier_probe(out, cert_pem, probe)
        base = flat_baseline(entries, key, work)
        rows = [
            ("full publish (s)", f["full_publish_s"], base["publish_s"], "≤ 60"),
            (
                f"{args.changes:,}-change publish (s)",
                f["change_publish_s"],
                base["publish_s"],
                "≤ 5",
            ),
            ("verifier RSS with list loaded (MB)", v["rss_mb"], base["verifier_rss_mb"], "≤ 300"),
            ("verifier load time (s)", v["load_s"], base["verifier_load_s"], ""),
            ("lookup, first time p50 (ms)", v["cold_p50_ms"], "", "≤ 1"),
            ("lookup, first time p99 (ms)", v["cold_p99_ms"], "", ""),
            ("lookup, cached p50 (ms)", v["warm_p50_ms"], "", "≤ 1"),
            ("bytes downloaded per browser check", browser, base["bytes_per_check"], "≤ 65,536"),
        ]
        print(
            f"documents: {args.documents:,}  shards: {len(shard_sizes):,}"
            f"  buckets: {len(bucket_sizes)}"
            f"  files written by the full publish: {files_written:,}"
        )
        table(
            "Status list at national scale (ours vs. one flat signed list)",
            ("figure", "ours", "flat list", "target"),
            rows,
        )
        print(
            f"  browser check: timestamp {ts:,} B + snapshot {snap_bytes:,} B + bucket ≤ "
            f"{max(bucket_sizes):,} B + shard ≤ {max(shard_sizes):,} B"
        )
        emit(
            "national",
            {
                "documents": args.documents,
                "changes": args.changes,
                **f,
                "verifier": v,
                "browser_bytes": browser,
                "counts": dict(snap.counts),
                "baseline_flat": base,
                "ratio_publish_vs_flat": f["full_publish_s"] / base["publish_s"],
                "ratio_bytes_vs_flat": browser / base["bytes_per_check"],
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
