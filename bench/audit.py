"""The auditor at national scale: 3,000,000 log events (issued, superseded, revoked) through
the authority's transparency log, a status list published from them, then ``certseal audit``
over the whole published folder.

Baseline in the same run: the least any auditor must do — read every published leaf and hash
it into the Merkle root (no parsing, no history rules, no status list).

    .venv/bin/python -m bench.audit [--events 3000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from auditor import audit
from authority.config import DEMO_SCHOOL
from authority.keys import load_identity
from authority.service import _write_atomic, init_authority, write_publication
from authority.transparency import TransparencyLog, log_origin
from bench.common import emit, rss_mb, table
from certseal.eventlog import LogEvent
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=3_000_000)
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

        start = time.perf_counter()
        report = audit(str(site), reference_time=now + dt.timedelta(hours=1))
        f["audit_s"] = time.perf_counter() - start
        assert report.ok, report.to_text()
        # Baseline: read every published leaf bundle and hash the leaves into the root.
        start = time.perf_counter()
        leaves = bytearray()
        for bundle in sorted((site / "log" / "tile" / "entries").rglob("*"), key=str):
            if bundle.is_file():
                for line in bundle.read_bytes().splitlines():
                    leaves += leaf_hash(line)
        merkle_root(bytes(leaves))
        f["baseline_read_and_hash_s"] = time.perf_counter() - start
        table(
            f"Auditor over {len(events):,} events and {len(docs):,} documents",
            ("", "seconds", "target"),
            [
                ("certseal audit: everything", f["audit_s"], "≤ 60"),
                ("baseline: read and hash every leaf", f["baseline_read_and_hash_s"], ""),
                ("authority: log append + publish", f["log_publish_s"], ""),
            ],
        )
        print(
            f"  ratio audit / baseline: {f['audit_s'] / f['baseline_read_and_hash_s']:.1f}×;"
            f" peak RSS {rss_mb():.0f} MB"
        )
        emit(
            "audit",
            {
                "events": len(events),
                "documents": len(docs),
                **f,
                "rss_mb": rss_mb(),
                "ratio_vs_baseline": f["audit_s"] / f["baseline_read_and_hash_s"],
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
