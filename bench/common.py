"""Shared by the benchmarks: timing, memory, the closing JSON line."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def timed(out: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    out[name] = time.perf_counter() - start


def rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process, in MB.

    /proc's VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a freshly spawned
    process would report its parent's peak."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU time (user + system) used so far by these processes and all their descendants.

    What a server spends per request, whatever else the machine runs: a benchmark reads it
    before and after a run (children that ended meanwhile are not counted)."""
    ppid: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(entry.name)
        ppid[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    wanted = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in ppid.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return sum(ticks.get(pid, 0) for pid in wanted) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The machine's 1-minute load: a run on a busy machine is one to repeat."""
    return os.getloadavg()[0]


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [list(map(str, header))] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def emit(name: str, figures: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object, to compare runs."""
    print(json.dumps({"benchmark": name, **figures}, sort_keys=True))


def median_of(fn: Callable[[], float], runs: int = 3) -> float:
    return statistics.median(fn() for _ in range(runs))
