"""The auditor at national scale: 3,000,000 log events (issued, superseded, revoked) through
the authority's transparency log, a status list published from them, then ``certseal audit``
over the whole published folder.

Baseline in the same run: the least any auditor must do — read every published leaf and hash
it into the Merkle root (no parsing, no history rules, no status list). Both run in fresh
processes (this one peaks far higher while it builds the log), interleaved A B A B; each
reports its own time and peak memory (VmHWM).

    .venv/bin/python -m bench.audit [--events 3000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from auditor import audit
from authority.config import DEMO_SCHOOL
from authority.keys import load_identity
from authority.service import _write_atomic, init_authority, write_publication
from authority.transparency import TransparencyLog, log_origin
from bench.common import emit, rss_mb, table
from certseal.eventlog import LogEvent, decode_bundle
from certseal.statuslist import Entry, Issuer, build_publication, build_shards
from certseal.timeutil import format_time
from certseal.tlog import leaf_hash, merkle_root

PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway benchmark key
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def synthetic(n: int) -> tuple[list[LogEvent], dict[str, list[object]]]:
    """n events: mostly issuances, 1% reissues (a new version supersedes an old one), 1%
    revocations. Returns the events and every document's final state."""
    events: list[LogEvent] = []
    docs: dict[str, list[object]] = {}

    def sha(i: int) -> str:
        return hashlib.sha256(i.to_bytes(8, "big")).hexdigest()

    made = 0
    while len(events) < n:
        i = len(events)
        at = format_time(T0 + dt.timedelta(seconds=i // 10_000 * 60))
        if i % 100 == 50 and made > 10 and docs[sha(made - 5)][3] == "active":
            old, new = sha(made - 5), sha(made)
            made += 1
            events.append(LogEvent(i, "issued", new, "transcript", at, 3))
            docs[new] = ["transcript", at, 3, "active", None, None, None, None, [i]]
            events.append(LogEvent(i + 1, "superseded", old, str(docs[old][0]), at, successor=new))
            docs[old][3:6] = ["superseded", new, at]
            docs[old][8].append(i + 1)  # type: ignore[attr-defined]
            continue
        if i % 100 == 77 and made > 20 and docs[sha(made - 20)][3] != "revoked":
            victim = sha(made - 20)
            events.append(LogEvent(i, "revoked", victim, str(docs[victim][0]), at, reason="other"))
            docs[victim][3] = "revoked"
            docs[victim][6:8] = ["other", at]
            docs[victim][8].append(i)  # type: ignore[attr-defined]
            continue
        s = sha(made)
        made += 1
        events.append(LogEvent(i, "issued", s, "diploma_zh", at, None))
        docs[s] = ["diploma_zh", at, None, "active", None, None, None, None, [i]]
    return events[:n], docs


def _audit_probe(site: str, now: dt.datetime, out: Any) -> None:
    """Runs in a fresh process: the audit alone, as ``certseal audit`` runs it."""
    start = time.perf_counter()
    report = audit(site, reference_time=now)
    seconds = time.perf_counter() - start
    out.put({"s": seconds, "rss_mb": rss_mb(), "ok": report.ok, "text": report.to_text()})


def _baseline_probe(site: str, now: dt.datetime, out: Any) -> None:
    """Runs in a fresh process: read every entry bundle, hash every leaf into the root."""
    start = time.perf_counter()
    leaves = bytearray()
    for bundle in sorted((Path(site) / "log" / "tile" / "entries").rglob("*"), key=str):
        if bundle.is_file() and ".p" not in bundle.parent.name:
            for leaf in decode_bundle(bundle.read_bytes()):
                leaves += leaf_hash(leaf)
    merkle_root(bytes(leaves))
    out.put({"s": time.perf_counter() - start, "rss_mb": rss_mb(), "ok": True, "text": ""})


def probe(target: Any, site: Path, now: dt.datetime) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(str(site), now, out))
    proc.start()
    result: dict[str, Any] = out.get(timeout=3600)
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=3_000_000)
    ap.add_argument("--rounds", type=int, default=2, help="audit and baseline runs, interleaved")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-audit-"))
    f: dict[str, float] = {}
    try:
        home, site = work / "home", work / "site"
        init_authority(home, DEMO_SCHOOL, PASSPHRASE, T0 - dt.timedelta(days=1))
        key = load_identity(home / "keys", "statuslist", PASSPHRASE).key
        events, docs = synthetic(args.events)
        events = [e for e in events if docs.get(e.sha256) is not None]
        now = T0 + dt.timedelta(days=40)
        log = TransparencyLog(home / "log")
        start = time.perf_counter()
        ref = log.append(
            events,
            through_seq=len(events),
            origin=log_origin(DEMO_SCHOOL.verify_url),
            now=now,
            key=key,
        )  # type: ignore[arg-type]
        log.publish(site)
        f["log_publish_s"] = time.perf_counter() - start
        entries = [Entry(s, *d[:8], tuple(d[8])) for s, d in docs.items()]  # type: ignore[arg-type, misc]
        built = build_publication(
            build_shards(entries, 4),
            issuer=Issuer("DEMO", "示範", "Demo"),
            version=1,
            issued_at=now,
            expires=now + dt.timedelta(days=7),
            key=key,
            extra=ref.to_extra(),
        )  # type: ignore[arg-type]
        write_publication(site, built)
        _write_atomic(site / "status" / "timestamp.json", built.files["timestamp.json"])
        (site / "certs").mkdir(parents=True, exist_ok=True)
        shutil.copy(home / "keys" / "statuslist.pem", site / "certs" / "statuslist.pem")

        audits: list[dict[str, Any]] = []
        baselines: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            baselines.append(probe(_baseline_probe, site, now + dt.timedelta(hours=1)))
            audits.append(probe(_audit_probe, site, now + dt.timedelta(hours=1)))
            assert audits[-1]["ok"], audits[-1]["text"]
        f["audit_s"] = statistics.median(a["s"] for a in audits)
        f["audit_rss_mb"] = max(a["rss_mb"] for a in audits)
        f["baseline_read_and_hash_s"] = statistics.median(b["s"] for b in baselines)
        f["baseline_rss_mb"] = max(b["rss_mb"] for b in baselines)
        table(
            f"Auditor over {len(events):,} events and {len(docs):,} documents "
            f"(median of {args.rounds}, each in a fresh process)",
            ("", "seconds", "peak MB", "target"),
            [
                ("certseal audit: everything", f["audit_s"], f["audit_rss_mb"], "≤ 30 s, ≤ 500 MB"),
                (
                    "baseline: read and hash every leaf",
                    f["baseline_read_and_hash_s"],
                    f["baseline_rss_mb"],
                    "",
                ),
                ("authority: log append + publish", f["log_publish_s"], "", ""),
            ],
        )
        print(
            f"  ratio audit / baseline: {f['audit_s'] / f['baseline_read_and_hash_s']:.1f}×;"
            f" every round (audit s, baseline s): "
            + ", ".join(
                f"({a['s']:.1f}, {b['s']:.1f})" for a, b in zip(audits, baselines, strict=True)
            )
        )
        emit(
            "audit",
            {
                "events": len(events),
                "documents": len(docs),
                **f,
                "generator_rss_mb": rss_mb(),
                "ratio_vs_baseline": f["audit_s"] / f["baseline_read_and_hash_s"],
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
