"""Availability under attack: does a normal user still get answers while slow clients and
hostile files run?

The verifier as deployed (nginx before gunicorn's 2 gthread workers, ``verifier.front``) and, in
the same run, the same gunicorn alone (the baseline, without the front), in alternating rounds
(front, alone, front, alone…) so a busy machine weighs on both. In each round, for ``--seconds``:

- 50 slow clients, each from its own loopback address (127.0.1.x: per-address limits cannot
  help), send an upload's headers, then one byte a second, reconnecting when dropped;
- 10 clients re-post ``bench.hostile_files.worst_hostile_pdf()`` as fast as they are answered,
  each from its own address (127.0.2.x);
- one normal user (127.0.0.1) verifies genuine diplomas one after another, each with a 2 s
  limit: correct means ``success`` (or the limit's warning) within 2 s.

The hostile clients' answers are counted by reason (``malformed_pdf``: parsed and stopped by a
limit; ``busy``: no parse slot came free), to show the attack ran and what it got.

Everything runs on 127.0.0.1 only and stops after the rounds.

    .venv/bin/python -m bench.availability [--seconds 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import emit, load_average, percentile, table
from bench.hostile_files import worst_hostile_pdf
from bench.verification import setup
from verifier.front import FrontConfig, Served, find_program, gunicorn_argv

ANSWER_LIMIT = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def _post(port: int, data: bytes, source: str, timeout: float) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(
            "POST", "/api/v1/verify", body=data, headers={"Content-Type": "application/pdf"}
        )
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, json.loads(body) if body[:1] == b"{" else {}
    finally:
        conn.close()


def _slow_client(port: int, source: str, stop: threading.Event) -> None:
    """Headers, then one byte a second of a 1 MB upload; again when the server drops it."""
    head = (
        b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pdf\r\n"
        b"Content-Length: 1048576\r\n\r\n"
    )
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), 5, (source, 0)) as s:
                s.sendall(head + b"%")
                while not stop.wait(1.0):
                    s.sendall(b"0")
        except OSError:
            stop.wait(0.2)


def _hostile_client(
    port: int, source: str, data: bytes, stop: threading.Event, got: collections.Counter[str]
) -> None:
    while not stop.is_set():
        try:
            status, body = _post(port, data, source, 60)
        except (OSError, http.client.HTTPException) as e:
            got[type(e).__name__] += 1
            stop.wait(0.2)
            continue
        reasons = body.get("reasons") or [{"code": "?"}]
        got[f"{status} {reasons[0]['code']}"] += 1  # type: ignore[index]


def _round(
    port: int,
    genuine: list[bytes],
    attack: bool,
    seconds: float,
    hostile: bytes,
    kinds: tuple[str, ...] = ("slow", "hostile"),
    hostile_answers: collections.Counter[str] | None = None,
) -> tuple[int, int, list[float]]:
    """(answers correct within 2 s, attempts, latencies of every attempt in ms)."""
    stop = threading.Event()
    threads = []
    got = collections.Counter[str]() if hostile_answers is None else hostile_answers
    if attack and "slow" in kinds:
        threads += [
            threading.Thread(target=_slow_client, args=(port, f"127.0.1.{i + 1}", stop))
            for i in range(50)
        ]
    if attack and "hostile" in kinds:
        threads += [
            threading.Thread(
                target=_hostile_client, args=(port, f"127.0.2.{i + 1}", hostile, stop, got)
            )
            for i in range(10)
        ]
    for t in threads:
        t.start()
    if threads:
        time.sleep(2)  # let the attack take hold before the user comes
    ok = attempts = 0
    latencies = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        data = genuine[i % len(genuine)]
        i += 1
        attempts += 1
        start = time.perf_counter()
        try:
            status, body = _post(port, data, "127.0.0.1", ANSWER_LIMIT)
            good = status == 200 and body.get("result") in ("success", "warning")
            reasons = {r["code"] for r in body.get("reasons", [])}  # type: ignore[attr-defined]
            good = good and reasons <= {"verification_limit_reached"}
        except (OSError, http.client.HTTPException):
            good = False
        elapsed = time.perf_counter() - start
        latencies.append(elapsed * 1e3)
        if good and elapsed <= ANSWER_LIMIT:
            ok += 1
    stop.set()
    for t in threads:
        t.join(timeout=10)
    return ok, attempts, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--documents", type=int, default=200)
    ap.add_argument(
        "--attack",
        choices=("both", "slow", "hostile"),
        default="both",
        help="both (the target), or one kind alone to see which one costs what",
    )
    args = ap.parse_args()
    nginx = find_program("nginx")
    if nginx is None:
        sys.exit("nginx is not installed: bash scripts/setup.sh")
    kinds = ("slow", "hostile") if args.attack == "both" else (args.attack,)
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-avail-"))
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    try:
        home, files = setup(work, args.documents)
        genuine = [f.read_bytes() for f in files]
        hostile = worst_hostile_pdf()
        cfg = work / "verifier.json"
        cfg.write_text(
            json.dumps(
                {
                    "issuers": [
                        {"name": "b", "trust_dir": str(home / "keys"), "source": str(work / "site")}
                    ],
                    "counts_db": str(work / "counts.sqlite"),
                }
            )
        )
        env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)}
        results: dict[tuple[str, bool], list[tuple[int, int, list[float]]]] = {}
        hostile_answers: dict[str, collections.Counter[str]] = {}
        loads = [load_average()]
        for r in range(args.rounds):
            for setup_name in ("nginx + gunicorn", "gunicorn alone"):
                port = _free_port()
                served = None
                direct = None
                if setup_name == "nginx + gunicorn":
                    front = FrontConfig(run_dir=work / f"run{r}", listen=f"127.0.0.1:{port}")
                    served = Served(
                        front, nginx=nginx, gunicorn=gunicorn, env=env, output=subprocess.DEVNULL
                    )
                else:
                    argv = gunicorn_argv(
                        gunicorn,
                        f"127.0.0.1:{port}",
                        control_socket=work / f"direct{r}.ctl",
                        access_log=False,
                    )
                    direct = subprocess.Popen(
                        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    _wait_port(port)
                try:
                    for attack in (False, True):
                        got = hostile_answers.setdefault(setup_name, collections.Counter())
                        res = _round(port, genuine, attack, args.seconds, hostile, kinds, got)
                        results.setdefault((setup_name, attack), []).append(res)
                        loads.append(load_average())
                        print(
                            f"  round {r + 1} {setup_name:17} {'attack' if attack else 'quiet '}: "
                            f"{res[0]}/{res[1]} correct within 2 s (load {loads[-1]:.1f})",
                            flush=True,
                        )
                finally:
                    if served is not None:
                        served.stop()
                    if direct is not None:
                        direct.terminate()
                        direct.wait(timeout=30)
        rows = []
        figures = {}
        for (name, attack), parts in results.items():
            ok = sum(p[0] for p in parts)
            n = sum(p[1] for p in parts)
            lat = [x for p in parts for x in p[2]]
            what = {"both": "50 slow + 10 hostile", "slow": "50 slow", "hostile": "10 hostile"}
            label = f"{name}, {what[args.attack] if attack else 'no attack'}"
            share = ok / n if n else float("nan")
            rows.append((label, n, share * 100, percentile(lat, 50), percentile(lat, 99)))
            figures[f"{name} {'attack' if attack else 'quiet'}"] = {
                "attempts": n,
                "correct_within_2s": share,
                "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99),
            }
        table(
            f"A normal user's verifications, {args.rounds} rounds × {args.seconds:.0f} s each",
            ("", "attempts", "% correct ≤ 2 s", "p50 ms", "p99 ms"),
            rows,
        )
        for name, got in hostile_answers.items():
            if got:
                answers = ", ".join(f"{n:,} × {what}" for what, n in got.most_common())
                print(f"  hostile clients' answers, {name}: {answers}")
        print(
            f"  1-minute load average during the run {min(loads):.1f}–{max(loads):.1f} "
            f"on {os.cpu_count()} cores"
        )
        emit(
            "availability",
            {
                "seconds": args.seconds,
                "rounds": args.rounds,
                "attack": args.attack,
                "load": loads,
                "hostile_answers": {k: dict(v) for k, v in hostile_answers.items()},
                **figures,
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
