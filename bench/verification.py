"""Verification under load: the verifier under gunicorn (2 workers), 4 concurrent clients on
this machine, 1,000 distinct genuine diplomas each verified up to its limit (3) plus a share
of bad files.

Baselines in the same run: an endpoint in the same server that only reads the upload and
answers a fixed JSON (the ceiling), and pyhanko's ``validate_pdf_signature`` in a plain loop
over the same files (what an implementer would write).

    .venv/bin/python -m bench.verification [--documents 1000] [--clients 4]

``--wrk``: instead, the C load generator wrk (Debian) posts one listed diploma as a raw
``application/pdf`` body over 4 connections, alternately to the verify endpoint and to the
read-only one (A B A B, ``--rounds`` each), through the nginx front and to gunicorn alone:
throughput ratio and p99, without a Python client taking the cores. The diploma is past its
limit after its first 3 answers, so each later answer reads its count without writing it. Each
run also reads the CPU time the servers (nginx and gunicorn, every process) spent per request,
a figure that other load on the machine moves far less than throughput.

    .venv/bin/python -m bench.verification --wrk [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.common import emit, load_average, percentile, table, tree_cpu_seconds
from bench.issuance import PASSPHRASE, generate_csv


def setup(work: Path, n: int) -> tuple[Path, list[Path]]:
    """An authority with n diplomas (limit 3 each), published."""
    from authority.config import DEMO_SCHOOL
    from authority.production import ParallelProducer
    from authority.service import Authority, IssueRequest, init_authority

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    home = work / "home"
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, now)
    cfg = json.loads((home / "config.json").read_text())
    cfg["limits"]["diploma_zh"] = 3
    (home / "config.json").write_text(json.dumps(cfg))
    with Authority(home) as auth:
        auth.import_records("graduates", generate_csv(n), now=now, actor="bench", source="bench")
        for sid in auth.registry.student_ids():
            auth.registry.record_collection(sid, "diploma_zh", now.date(), at=now, actor="bench")
        with ParallelProducer(auth.keys_dir, PASSPHRASE) as produce:
            rep = auth.issue(
                [IssueRequest("diploma_zh", s) for s in auth.registry.student_ids()],
                now=now,
                actor="bench",
                produce=produce,
            )
        auth.publish(work / "site", PASSPHRASE, now=now, actor="bench")
        return home, [home / d.path for d in rep.issued]


def bad_files(genuine: list[Path], n: int) -> list[bytes]:
    rnd = random.Random(3)
    out = []
    for i in range(n):
        data = rnd.choice(genuine).read_bytes()
        kind = i % 4
        if kind == 0:  # one byte changed: full signature validation, signature_invalid
            pos = len(data) // 3
            out.append(data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :])
        elif kind == 1:  # appended after %%EOF
            out.append(data + b"\n%junk\n")
        elif kind == 2:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("d.pdf", data)
            out.append(buf.getvalue())
        else:
            out.append(data[: len(data) // 2])
    return out


def _multipart(data: bytes) -> tuple[bytes, str]:
    b = "certsealbench"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{b}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={b}"


def _client(args: tuple[int, str, list[tuple[str, bytes]]]) -> list[tuple[str, float, int, str]]:
    port, path, items = args
    out = []
    for label, data in items:
        body, ctype = _multipart(data)
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        payload = resp.read()
        elapsed = time.perf_counter() - start
        conn.close()
        result = json.loads(payload).get("result", "?") if payload[:1] == b"{" else "?"
        out.append((label, elapsed, resp.status, result))
    return out


def load(
    port: int, path: str, items: list[tuple[str, bytes]], clients: int
) -> tuple[float, list[tuple[str, float, int, str]]]:
    shares = [items[i::clients] for i in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        start = time.perf_counter()
        parts = pool.map(_client, [(port, path, s) for s in shares])
        wall = time.perf_counter() - start
    return wall, [r for p in parts for r in p]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pyhanko_loop(home: Path, files: list[Path]) -> float:
    """What an implementer would write: validate_pdf_signature per file, one process."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = x509.load_pem_x509_certificate((home / "keys" / "root.pem").read_bytes())
    roots = [asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))]
    start = time.perf_counter()
    for f in files:
        r = PdfFileReader(io.BytesIO(f.read_bytes()))
        st = validate_pdf_signature(r.embedded_signatures[0], ValidationContext(trust_roots=roots))
        assert st.bottom_line
    return time.perf_counter() - start


WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/pdf"
local f = io.open(os.getenv("CERTSEAL_WRK_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  io.write(string.format("CERTSEAL %d %d %.3f %d %d\\n", summary.requests, summary.duration,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect
      + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _wrk(
    url: str, body: Path, seconds: float, lua: Path, servers: list[int]
) -> tuple[float, float, int, float]:
    """(requests/s, p99 ms, errors, servers' CPU µs per request) of one wrk run: 2 threads, 4
    connections (all from 127.0.0.1: the front answers a fifth upload at once from one address
    busy)."""
    cpu = tree_cpu_seconds(servers)
    out = subprocess.run(
        ["wrk", "-t2", "-c4", f"-d{seconds:.0f}s", "-s", str(lua), url],
        env={**os.environ, "CERTSEAL_WRK_BODY": str(body)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = tree_cpu_seconds(servers) - cpu
    line = next(x for x in out.splitlines() if x.startswith("CERTSEAL "))
    n, micros, p99, status_err, sock_err = line.split()[1:]
    per_request = cpu / max(1, int(n)) * 1e6
    return int(n) / (int(micros) / 1e6), float(p99), int(status_err) + int(sock_err), per_request


def _answered(base: str, path: str, body: Path) -> None:
    """One POST of the file answers 200 with JSON, or the benchmark stops and says so."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body.read_bytes(), {"Content-Type": "application/pdf"})
        resp = conn.getresponse()
        json.loads(resp.read())
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}")
    except (OSError, ValueError) as e:
        sys.exit(f"{base}{path} does not answer a verification ({e}): nothing to measure")
    finally:
        conn.close()


def wrk_main(args: argparse.Namespace) -> None:
    """Verify vs read-only with wrk, interleaved, behind nginx and against gunicorn alone."""
    from verifier.front import FrontConfig, Served, find_program, gunicorn_argv

    nginx = find_program("nginx")
    if nginx is None or shutil.which("wrk") is None:
        sys.exit("nginx and wrk are installed by bash scripts/setup.sh")
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-wrk-"))
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    try:
        home, files = setup(work, 20)
        body = files[0]
        lua = work / "post.lua"
        lua.write_text(WRK_LUA)
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
        env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg), "CERTSEAL_BENCH_ENDPOINTS": "1"}
        rows: list[tuple[object, ...]] = []
        figures: dict[str, dict[str, Any]] = {}
        loads = [load_average()]
        for name in ("nginx + gunicorn", "gunicorn alone"):
            port = _free_port()
            served = direct = None
            if name == "nginx + gunicorn":
                served = Served(
                    FrontConfig(run_dir=work / "run", listen=f"127.0.0.1:{port}"),
                    nginx=nginx,
                    gunicorn=gunicorn,
                    env=env,
                    output=subprocess.DEVNULL,
                )
                # Without a site folder the front passes every address it does not
                # answer itself to the app, the benchmark's endpoint included.
            else:
                direct = subprocess.Popen(
                    gunicorn_argv(
                        gunicorn,
                        f"127.0.0.1:{port}",
                        control_socket=work / "d.ctl",
                        access_log=False,
                    ),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(200):
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.05)
            # Every process of the servers under test: nginx's workers, gunicorn's and theirs.
            servers = [p.pid for p in (served.gunicorn, served.nginx) if p] if served else []
            servers += [direct.pid] if direct is not None else []
            try:
                base = f"http://127.0.0.1:{port}"
                # Each endpoint answers through this set-up before it is timed: a front that
                # answers every request with a refusal would otherwise be "fast".
                for path in ("/api/v1/verify", "/bench/read-only"):
                    _answered(base, path, body)
                _wrk(base + "/api/v1/verify", body, 2, lua, servers)  # warm up
                got: dict[str, list[tuple[float, float, int, float]]] = {"verify": [], "read": []}
                for _ in range(args.rounds):
                    for key, path in (("verify", "/api/v1/verify"), ("read", "/bench/read-only")):
                        got[key].append(_wrk(base + path, body, args.seconds, lua, servers))
                        loads.append(load_average())
            finally:
                if served is not None:
                    served.stop()
                if direct is not None:
                    direct.terminate()
                    direct.wait(timeout=30)
            v_tp = sum(x[0] for x in got["verify"]) / args.rounds
            r_tp = sum(x[0] for x in got["read"]) / args.rounds
            v_p99 = max(x[1] for x in got["verify"])
            r_p99 = max(x[1] for x in got["read"])
            v_p99_median = statistics.median(x[1] for x in got["verify"])
            v_cpu = statistics.median(x[3] for x in got["verify"])
            r_cpu = statistics.median(x[3] for x in got["read"])
            errors = sum(x[2] for x in got["verify"] + got["read"])
            rows.append((f"{name}: verify (listed diploma)", v_tp, v_p99, v_p99_median, v_cpu, ""))
            rows.append(
                (f"{name}: read-only endpoint", r_tp, r_p99, "", r_cpu, f"{v_tp / r_tp:.3f}")
            )
            figures[name] = {
                "verify_rps": v_tp,
                "verify_p99_ms": v_p99,
                "verify_p99_ms_median_round": v_p99_median,
                "read_only_rps": r_tp,
                "read_only_p99_ms": r_p99,
                "ratio": v_tp / r_tp,
                "verify_server_cpu_us": v_cpu,
                "read_only_server_cpu_us": r_cpu,
                "cpu_ratio": r_cpu / v_cpu,
                "rounds_rps": [[x[0] for x in got["verify"]], [x[0] for x in got["read"]]],
                "errors": errors,
            }
        bad = {name: f["errors"] for name, f in figures.items() if f["errors"]}
        if bad:
            print(f"  NOT VALID: wrk counted failed requests {bad}; the figures below mean nothing")
        table(
            f"wrk, 4 connections, raw PDF body, {args.rounds} × {args.seconds:.0f} s each, A B A B",
            (
                "",
                "requests/s",
                "p99 ms (worst round)",
                "p99 ms (median round)",
                "server CPU µs/request",
                "ratio verify / read-only",
            ),
            rows,
        )
        print(
            f"  targets: ratio ≥ 0.8, p99 ≤ 25 ms; 1-minute load average during the run "
            f"{min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores"
        )
        emit(
            "verification_wrk",
            {"rounds": args.rounds, "seconds": args.seconds, "load": loads, **figures},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--documents", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--bad-share", type=float, default=0.1)
    ap.add_argument("--wrk", action="store_true", help="wrk against verify and read-only")
    ap.add_argument("--seconds", type=float, default=10, help="--wrk: length of each run")
    ap.add_argument("--rounds", type=int, default=3, help="--wrk: runs of each endpoint")
    args = ap.parse_args()
    if args.wrk:
        wrk_main(args)
        return
    work = Path(tempfile.mkdtemp(prefix="certseal-bench-verify-"))
    server = None
    try:
        home, files = setup(work, args.documents)
        items = [("genuine", f.read_bytes()) for f in files for _ in range(3)]
        items += [("bad", b) for b in bad_files(files, int(len(items) * args.bad_share))]
        random.Random(4).shuffle(items)
        port = _free_port()
        cfg = work / "verifier.json"
        cfg.write_text(
            json.dumps(
                {
                    "issuers": [
                        {
                            "name": "bench",
                            "trust_dir": str(home / "keys"),
                            "source": str(work / "site"),
                        }
                    ],
                    "counts_db": str(work / "counts.sqlite"),
                }
            )
        )
        env = {**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg), "CERTSEAL_BENCH_ENDPOINTS": "1"}
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
                "verifier.app:create_app()",
            ],
            env=env,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        # Warm up both workers (status list loaded) without spending any document's count.
        load(port, "/api/v1/verify", [i for i in items if i[0] == "bad"][:20], 2)
        wall_v, res_v = load(port, "/api/v1/verify", items, args.clients)
        wall_r, res_r = load(port, "/bench/read-only", items, args.clients)
        t_loop = pyhanko_loop(home, files)

        def stats(rows: list[tuple[str, float, int, str]], label: str | None) -> dict[str, float]:
            lat = [r[1] * 1e3 for r in rows if label is None or r[0] == label]
            return {"n": len(lat), "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}

        errors = sum(1 for r in res_v if r[2] >= 500 or r[3] == "?")
        wrong = sum(1 for r in res_v if r[0] == "genuine" and r[3] not in ("success", "warning"))
        wrong += sum(1 for r in res_v if r[0] == "bad" and r[3] != "failure")
        succ = sum(1 for r in res_v if r[0] == "genuine" and r[3] == "success")
        g, b, ro = stats(res_v, "genuine"), stats(res_v, "bad"), stats(res_r, None)
        tp_v, tp_r = len(res_v) / wall_v, len(res_r) / wall_r
        tp_loop = len(files) / t_loop
        table(
            f"Verification over HTTP, gunicorn 2 workers, {args.clients} concurrent clients",
            ("", "requests", "p50 ms", "p99 ms", "requests/s"),
            [
                ("verify: genuine diplomas", g["n"], g["p50_ms"], g["p99_ms"], ""),
                ("verify: bad files", b["n"], b["p50_ms"], b["p99_ms"], ""),
                (
                    "verify: all",
                    len(res_v),
                    stats(res_v, None)["p50_ms"],
                    stats(res_v, None)["p99_ms"],
                    tp_v,
                ),
                ("baseline: read the upload only", len(res_r), ro["p50_ms"], ro["p99_ms"], tp_r),
                (
                    "baseline: pyhanko validate loop (1 process)",
                    len(files),
                    t_loop / len(files) * 1e3,
                    "",
                    tp_loop,
                ),
            ],
        )
        print(
            f"  throughput ratio verify / read-only: {tp_v / tp_r:.2f}  (target ≥ 0.5); "
            f"errors {errors}, wrong verdicts {wrong}, successes {succ} "
            f"(= {args.documents} documents × limit 3)"
        )
        emit(
            "verification",
            {
                "documents": args.documents,
                "clients": args.clients,
                "requests": len(res_v),
                "genuine": g,
                "bad": b,
                "throughput_rps": tp_v,
                "read_only": {**ro, "throughput_rps": tp_r},
                "ratio_vs_read_only": tp_v / tp_r,
                "pyhanko_loop_per_s": tp_loop,
                "ratio_vs_pyhanko_loop": tp_v / tp_loop,
                "errors": errors,
                "wrong_verdicts": wrong,
                "successes": succ,
            },
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
