"""Issuing one or two documents, as ``certseal authority issue --type … --student …`` does:
one ParallelProducer per command, closed at its end.

Ours: small calls produced in this process (``IN_PROCESS_MAX``). Baseline in the same run: the
same producer made to start its worker pool for every call (``in_process_max=0``, how it worked
before issue 15). Rounds alternate baseline and ours (A B A B); each issues new transcripts.

    .venv/bin/python -m bench.small_issue [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

from bench.common import emit, load_average, table

PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway benchmark key


def one_command(home: Path, students: list[str], order: str, in_process_max: int | None) -> float:
    """Seconds for one issue command of these students' transcripts, producer start to close."""
    from authority.production import IN_PROCESS_MAX, ParallelProducer
    from authority.service import Authority, IssueRequest

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    limit = IN_PROCESS_MAX if in_process_max is None else in_process_max
    with Authority(home) as auth:
        start = time.perf_counter()
        with ParallelProducer(auth.keys_dir, PASSPHRASE, in_process_max=limit) as produce:
            report = auth.issue(
                [IssueRequest("transcript", s, order) for s in students],
                now=now,
                actor="bench",
                produce=produce,
            )
        elapsed = time.perf_counter() - start
    assert len(report.issued) == len(students) and not report.failed, report.failed[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from authority.config import DEMO_SCHOOL
    from authority.service import Authority, init_authority

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        init_authority(home, DEMO_SCHOOL, PASSPHRASE, now - dt.timedelta(days=1))
        with Authority(home) as auth:
            for kind in ("graduates", "courses"):
                data = resources.files("authority").joinpath("sample_data", f"{kind}.csv")
                auth.import_records(
                    kind, data.read_bytes(), now=now, actor="bench", source=f"{kind}.csv"
                )
            students = auth.registry.student_ids("courses")
        times: dict[tuple[str, int], list[float]] = {}
        for r in range(args.rounds):
            for count in (1, 2):
                for name, limit in (("baseline", 0), ("ours", None)):
                    order = f"ORD-{name}-{count}-{r}"
                    t = one_command(home, students[:count], order, limit)
                    times.setdefault((name, count), []).append(t)
        rows = []
        figures: dict[str, float] = {"cores": os.cpu_count() or 1, "load": load_average()}
        for count in (1, 2):
            base = statistics.median(times[("baseline", count)])
            ours = statistics.median(times[("ours", count)])
            rows.append([count, f"{base:.2f} s", f"{ours:.2f} s", f"{base / ours:.1f}×"])
            figures[f"baseline_s_{count}"] = round(base, 3)
            figures[f"ours_s_{count}"] = round(ours, 3)
            figures[f"speedup_{count}"] = round(base / ours, 2)
        table(
            "One issue command (median of rounds)",
            ["documents", "pool per call (before)", "in process (ours)", "faster"],
            rows,
        )
        emit("small_issue", figures)


if __name__ == "__main__":
    main()
