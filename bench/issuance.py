"""Issuance: a graduating class of 10,000 diplomas from a generated CSV, on all cores.

Ours: render, sign, register and write, through the authority's batch (``Authority.issue``
with worker processes). Baseline in the same run: pyhanko's stock signing as its documentation
shows it (``SimpleSigner.load`` + ``signers.sign_pdf``, one process) of the same number of
already-rendered PDFs — sign only, no rendering.

    .venv/bin/python -m bench.issuance [--count 10000] [--baseline-count N]

``--hsm``: the document-signing key on a SoftHSM2 token (PKCS#11) against the same key kind in
memory, both through the authority's batch with worker processes, in interleaved rounds
(in-memory, HSM, in-memory, HSM, ...) after a warm-up round that starts both pools; and the raw
signature alone, interleaved the same way. Target: HSM within 2× of in-memory.

    .venv/bin/python -m bench.issuance --hsm [--count 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import emit, rss_mb, table

PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway benchmark key


def generate_csv(n: int) -> bytes:
    """n fictional graduates, names drawn from the sample class."""
    from importlib import resources

    sample = list(
        csv.DictReader(
            io.StringIO(
                resources.files("authority")
                .joinpath("sample_data", "graduates.csv")
                .read_text("utf-8-sig")
            )
        )
    )
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(sample[0]))
    w.writeheader()
    for i in range(n):
        row = dict(sample[i % len(sample)])
        row["student_id"] = f"B{114000000 + i}"
        row["school_email"] = f"{row['student_id']}@demo.edu.tw"
        w.writerow(row)
    return out.getvalue().encode()


def ours(home: Path, n: int, workers: int) -> tuple[float, list[str], float]:
    from authority.config import DEMO_SCHOOL
    from authority.production import ParallelProducer
    from authority.service import Authority, IssueRequest, init_authority

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, now)
    with Authority(home) as auth:
        auth.import_records("graduates", generate_csv(n), now=now, actor="bench", source="bench")
        students = auth.registry.student_ids()
        for sid in students:
            auth.registry.record_collection(sid, "diploma_zh", now.date(), at=now, actor="bench")
        requests = [IssueRequest("diploma_zh", s) for s in students]
        with ParallelProducer(auth.keys_dir, PASSPHRASE, workers) as produce:
            start = time.perf_counter()
            report = auth.issue(requests, now=now, actor="bench", produce=produce)
            elapsed = time.perf_counter() - start
            worker_rss = max(rss_mb(pid) for pid in produce.worker_pids())
        assert len(report.issued) == n and not report.failed, report.failed[:3]
        paths = [str(home / d.path) for d in report.issued]
    return elapsed, paths, worker_rss


def baseline(home: Path, n: int) -> float:
    """pyhanko's documented way: SimpleSigner.load once, then sign_pdf per document."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from authority.config import DEMO_SCHOOL
    from authority.content import DocumentContent
    from authority.fonts import default_font_set
    from authority.records import parse_csv
    from authority.render import Renderer
    from certseal.doctypes import DOCUMENT_TYPES

    grads = parse_csv("graduates", generate_csv(n)).accepted
    renderer = Renderer(default_font_set())
    today = dt.date.today()
    unsigned = [
        renderer.render(
            DocumentContent(
                DOCUMENT_TYPES["diploma_zh"], f"DEMO-DZ-2026-{i:06d}", today, DEMO_SCHOOL, g
            ),
            print_locked=False,
        )
        for i, g in enumerate(grads)
    ]
    keys = home / "keys"
    signer = signers.SimpleSigner.load(
        str(keys / "signing.key.pem"),
        str(keys / "signing.pem"),
        ca_chain_files=(str(keys / "root.pem"),),
        key_passphrase=PASSPHRASE.encode(),
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature1")
    start = time.perf_counter()
    for pdf in unsigned:
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
        signers.sign_pdf(w, meta, signer=signer).getvalue()
    return time.perf_counter() - start


def _softhsm(work: Path) -> tuple[str, str]:
    """A SoftHSM2 token in ``work``; its configuration and PIN in the environment, which the
    spawned workers inherit (SoftHSM2 reads it once per process)."""
    import subprocess

    module, label, pin = "/usr/lib/softhsm/libsofthsm2.so", "bench", "bench-pin-not-secret"
    (work / "tokens").mkdir(parents=True)
    conf = work / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {work / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["CERTSEAL_HSM_PIN"] = pin
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "so-" + pin,
         "--pin", pin],
        check=True, capture_output=True,
    )  # fmt: skip
    return module, label


def hsm_compare(work: Path, n: int, rounds: int, workers: int) -> None:
    """In-memory key vs HSM key: whole issuance in interleaved rounds, then raw signatures."""
    import statistics

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from authority.config import DEMO_SCHOOL
    from authority.hsm import HsmSettings
    from authority.keys import load_identity
    from authority.production import ParallelProducer
    from authority.service import Authority, IssueRequest, init_authority

    module, label = _softhsm(work / "softhsm")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    homes = {"in-memory": work / "mem", "HSM": work / "hsm"}
    init_authority(homes["in-memory"], DEMO_SCHOOL, PASSPHRASE, now)
    init_authority(homes["HSM"], DEMO_SCHOOL, PASSPHRASE, now, hsm=HsmSettings(module, label))
    batches: dict[str, list[list[IssueRequest]]] = {}
    for name, home in homes.items():
        with Authority(home) as auth:
            auth.import_records(
                "graduates", generate_csv(n * (rounds + 1)), now=now, actor="b", source="b"
            )
            students = auth.registry.student_ids()
            for sid in students:
                auth.registry.record_collection(sid, "diploma_zh", now.date(), at=now, actor="b")
            reqs = [IssueRequest("diploma_zh", s) for s in students]
            batches[name] = [reqs[i * n : (i + 1) * n] for i in range(rounds + 1)]
    times: dict[str, list[float]] = {name: [] for name in homes}
    auths = {name: Authority(home) for name, home in homes.items()}
    producers = {
        name: ParallelProducer(auths[name].keys_dir, PASSPHRASE, workers, in_process_max=0)
        for name in homes
    }
    try:
        for r in range(rounds + 1):  # round 0 starts the pools (and the HSM sessions): not timed
            for name in homes:
                start = time.perf_counter()
                report = auths[name].issue(
                    batches[name][r], now=now, actor="b", produce=producers[name]
                )
                elapsed = time.perf_counter() - start
                assert len(report.issued) == n and not report.failed, report.failed[:3]
                if r:
                    times[name].append(elapsed)
    finally:
        for name in homes:
            producers[name].close()
            auths[name].close()
    rows = []
    for name in homes:
        med = statistics.median(times[name])
        rows.append((f"{name} key: render + sign + register + write", n, med, n / med))
    table(f"Issuance, HSM vs in-memory ({workers} workers, median of {rounds} rounds)",
          ("", "documents/round", "seconds", "documents/s"), rows)  # fmt: skip
    ratio = statistics.median(times["HSM"]) / statistics.median(times["in-memory"])
    print("  per round (s): " + "; ".join(
        f"{name} {', '.join(f'{t:.2f}' for t in times[name])}" for name in homes))  # fmt: skip
    print(f"  ratio HSM / in-memory time: {ratio:.2f}×   (target: ≤ 2×)")

    keys = {
        name: load_identity(home / "keys", "signing", PASSPHRASE).key
        for name, home in homes.items()
    }
    digest = b"x" * 200  # about the size of the signed attributes
    sign_us: dict[str, list[float]] = {name: [] for name in homes}
    for _ in range(5):
        for name, key in keys.items():
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            start = time.perf_counter()
            for _ in range(200):
                key.sign(digest, ec.ECDSA(hashes.SHA256()))
            sign_us[name].append((time.perf_counter() - start) / 200 * 1e6)
    raw = {name: statistics.median(v) for name, v in sign_us.items()}
    print(
        f"  raw ECDSA P-256 signature, median of 5 interleaved runs of 200: in-memory "
        f"{raw['in-memory']:.0f} µs, HSM {raw['HSM']:.0f} µs ({raw['HSM'] / raw['in-memory']:.1f}×)"
    )
    emit(
        "issuance_hsm",
        {
            "count": n,
            "rounds": rounds,
            "workers": workers,
            "seconds": times,
            "ratio_hsm_over_memory": ratio,
            "raw_sign_us": raw,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument(
        "--baseline-count",
        type=int,
        default=None,
        help="documents for the baseline [default: --count]",
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hsm", action="store_true", help="HSM (SoftHSM2) vs in-memory key")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of --hsm")
    args = ap.parse_args()
    base_n = args.baseline_count or args.count
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-issuance-"))
    if args.hsm:
        try:
            hsm_compare(work, args.count, args.rounds, args.workers)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    try:
        t_ours, paths, worker_rss = ours(work / "home", args.count, args.workers)
        sizes = [os.path.getsize(p) for p in paths[:200]]
        parent_rss = rss_mb()
        t_base = baseline(work / "home", base_n)
        ours_rate, base_rate = args.count / t_ours, base_n / t_base
        table(
            f"Issuance on {os.cpu_count()} cores ({args.workers} workers)",
            ("", "documents", "seconds", "documents/s"),
            [
                ("ours: render + sign + register + write", args.count, t_ours, ours_rate),
                ("baseline: stock pyhanko, sign only", base_n, t_base, base_rate),
            ],
        )
        print(
            f"  ratio ours / baseline: {ours_rate / base_rate:.2f}×"
            "   (targets: ≥ 200 documents/s, ≥ 2×)"
        )
        print(
            f"  peak RSS: parent {parent_rss:.0f} MB, largest worker {worker_rss:.0f} MB; "
            f"mean PDF {sum(sizes) / len(sizes) / 1024:.0f} KB"
        )
        emit(
            "issuance",
            {
                "count": args.count,
                "workers": args.workers,
                "ours_seconds": t_ours,
                "ours_per_s": ours_rate,
                "baseline_count": base_n,
                "baseline_seconds": t_base,
                "baseline_per_s": base_rate,
                "ratio": ours_rate / base_rate,
                "parent_rss_mb": parent_rss,
                "worker_rss_mb": worker_rss,
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
