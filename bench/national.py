"""Status list at national scale: 3,000,000 documents (synthetic hashes, realistic states).

Measures the full publish, a 1,000-change publish, the verifier's memory and lookup time with
the list loaded, and the bytes the browser's no-upload check downloads for one file. Baseline
in the same run: the naive design, one flat signed JSON list of every document.

``--federation`` measures instead the national site's check without uploading: a real operator
admits ``--schools`` schools (60), each with a status list of ``--per-school`` documents
(50,000), and the bytes one browser check downloads are counted file by file, as the page
fetches them (trust list: timestamp, snapshot, targets, the chosen school's group and role, the
largest of each; then the school's status timestamp, snapshot, one bucket, one shard), raw and
gzip-compressed, with the trust list fetched (first check) and cached (later checks). Baseline
in the same run: reading the whole trust list (every group and every school's role, as the
Python client does) before the status list.

    .venv/bin/python -m bench.national [--documents 3000000]
    .venv/bin/python -m bench.national --federation [--schools 60 --per-school 50000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import multiprocessing
import random
import shutil
import tempfile
import time
from collections import Counter
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


def _school_request(code: str, now: dt.datetime) -> bytes:
    """A school's signed onboarding request, its keys made in memory (as export-request does)."""
    from authority.keys import _key_usage
    from certseal import trustlist

    keys = {r: ec.generate_private_key(ec.SECP256R1()) for r in ("root", "signing", "status")}
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{code} bench")])
    start, end = now - dt.timedelta(days=30), now + dt.timedelta(days=3650)
    root = issue_certificate(
        subject=name, public_key=keys["root"].public_key(), issuer=None, issuer_key=keys["root"],
        not_before=start, not_after=end, usage=_key_usage(sign=False, commit=False, ca=True),
        ca=True,
    )  # fmt: skip
    certs = {}
    for role in ("signing", "status"):
        certs[role] = issue_certificate(
            subject=name, public_key=keys[role].public_key(), issuer=root,
            issuer_key=keys["root"], not_before=start, not_after=end,
            usage=_key_usage(sign=True, commit=role == "signing", ca=False), ca=False,
        )  # fmt: skip
    records = [
        trustlist.KeyRecord.from_certificate(certs["signing"], "signing"),
        trustlist.KeyRecord.from_certificate(certs["status"], "statuslist"),
    ]
    role = trustlist.school_role(code, records, 1, now + dt.timedelta(days=365))
    trustlist.sign(role, keys["status"])
    base = f"https://verify.{code.lower()}.edu.tw"
    body = {
        "id": code,
        "name_zh": f"國立第{code[1:]}號示範科技大學",
        "name_en": f"National Demonstration University of Science and Technology No. {code[1:]}",
        "domains": [f"{code.lower()}.edu.tw"],
        "status_list_url": f"{base}/status/",
        "log_url": f"{base}/log/",
    }
    request = trustlist.OnboardingRequest.create(
        body, [root, certs["signing"], certs["status"]], role, keys["status"]
    )
    return request.to_bytes()


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, 6))


def federation_bench(schools: int, per_school: int) -> None:
    """Bytes of one check without uploading on the national site (see the module's doc)."""
    from certseal.trustlist import TRUST_DIR, group_of, metadata_path
    from federation.operator import Operator, init_operator

    work = Path(tempfile.mkdtemp(prefix="certseal-bench-federation-"))
    f: dict[str, float] = {}
    try:
        home = work / "operator"
        names = init_operator(home, "trust.bench.example/trust/log", "bench-passphrase-1", T0)
        with timed(f, "admit_s"), Operator(home) as op:
            roots = op.signers(names[:2], dict.fromkeys(names[:2], "bench-passphrase-1"))
            online = op.online_key("bench-passphrase-1")
            for i in range(schools):
                at = T0 + dt.timedelta(minutes=i + 1)
                op.accept_request(
                    _school_request(f"S{i:03d}", at), now=at, signers=roots, online=online
                )
            op.publish(work / "site")
            state = op.state()
        meta = work / "site" / TRUST_DIR
        read = {
            "timestamp.json": (meta / metadata_path("timestamp")).read_bytes(),
            "snapshot": (meta / metadata_path("snapshot", state.snapshot)).read_bytes(),
            "targets": (meta / metadata_path("targets", state.targets)).read_bytes(),
        }
        roles = {sid: (meta / metadata_path(sid, v)).read_bytes() for sid, v in state.roles.items()}
        groups = [(meta / metadata_path(n, v)).read_bytes() for n, v in state.groups.items()]
        key = ec.generate_private_key(ec.SECP256R1())
        with timed(f, "status_publish_s"):
            built = build_publication(
                build_shards(synthetic(per_school), 4),
                issuer=ISSUER,
                version=1,
                issued_at=T0,
                expires=T0 + dt.timedelta(days=7),
                key=key,
            )
        status = {
            "timestamp": built.files["timestamp.json"],
            "snapshot": built.files["snapshot/1.json"],
            "bucket": max((v for p, v in built.files.items() if p.startswith("buckets/")), key=len),
            "shard": max((v for p, v in built.files.items() if p.startswith("shards/")), key=len),
        }
        # The worst case: the largest group of schools and the largest school role.
        one_group = max(groups, key=len)
        largest = max(Counter(group_of(sid) for sid in state.roles).values())
        one_role = max(roles.values(), key=len)
        trust_cold = [*read.values(), one_group, one_role]
        trust_warm = [read["timestamp.json"]]  # revalidated; versioned files stay cached
        status_files = list(status.values())
        every_role = [*read.values(), *groups, *roles.values()]
        rows = []
        figures: dict[str, dict[str, int]] = {}
        for label, files, base in (
            ("first check (trust list fetched)", trust_cold + status_files,
             every_role + status_files),
            ("later checks (trust list cached)", trust_warm + status_files,
             every_role + status_files),
        ):  # fmt: skip
            raw, gz = sum(map(len, files)), sum(map(_gz, files))
            braw, bgz = sum(map(len, base)), sum(map(_gz, base))
            figures[label] = {"raw": raw, "gzip": gz, "baseline_raw": braw, "baseline_gzip": bgz}
            rows.append((label + ", raw (B)", raw, braw, "≤ 65,536"))
            rows.append((label + ", gzip (B)", gz, bgz, "≤ 65,536"))
        print(
            f"schools: {schools} in {len(groups)} groups (the largest holds {largest})  "
            f"documents per school: {per_school:,}  "
            f"admitting them all: {f['admit_s']:.1f} s"
        )
        table(
            "One check without uploading on the national site (ours vs. reading every role)",
            ("figure", "ours", "whole trust list", "target"),
            rows,
        )
        parts = {f"trust {k}": v for k, v in read.items()}
        parts.update({"trust largest group": one_group, "trust one role": one_role})
        parts.update({f"status {k}": v for k, v in status.items()})
        for name, data in parts.items():
            print(f"  {name:<22} {len(data):>8,} B raw  {_gz(data):>8,} B gzip")
        emit(
            "national_federation",
            {
                "schools": schools,
                "per_school": per_school,
                **f,
                "bytes": figures,
                "parts_raw": {k: len(v) for k, v in parts.items()},
                "parts_gzip": {k: _gz(v) for k, v in parts.items()},
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--documents", type=int, default=3_000_000)
    ap.add_argument("--changes", type=int, default=1_000)
    ap.add_argument("--federation", action="store_true", help="the national site's check")
    ap.add_argument("--schools", type=int, default=60)
    ap.add_argument("--per-school", type=int, default=50_000)
    args = ap.parse_args()
    if args.federation:
        federation_bench(args.schools, args.per_school)
        return
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
