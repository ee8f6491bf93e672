"""Bulk verification: files per second through POST /api/v1/verify/batch, against the same files
sent one by one to POST /api/v1/verify, in alternating rounds (A B A B) in the same run.

A real verifier on 127.0.0.1 (werkzeug's threaded server, one process), real diplomas from a
real authority. Two kinds of file: issued ones (listed: a hash and a lookup), and qpdf re-saved
copies (unlisted: the full parse in an isolated process). Printed as files per second and as the
ratio bulk / single; the last line is JSON.

    .venv/bin/python -m bench.bulk [--files 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server

from bench.common import emit, table
from bench.verification import setup
from verifier.app import create_app


def _multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "----certseal-bench"
    body = io.BytesIO()
    for k, v in fields.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        )
    for name, data in files:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
        )
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def _post(url: str, body: bytes, ctype: str) -> int:
    # Only the http://127.0.0.1 URL this benchmark builds.
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})  # noqa: S310
    with urllib.request.urlopen(req, timeout=600) as resp:  # noqa: S310
        resp.read()
        return int(resp.status)


def single(url: str, files: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    for name, data in files:
        body, ctype = _multipart([(name, data)], {})
        _post(url + "/api/v1/verify", body, ctype)
    return time.perf_counter() - start


def bulk(url: str, files: list[tuple[str, bytes]], receipt: bool = False) -> float:
    body, ctype = _multipart(files, {"receipt": "1"} if receipt else {})
    start = time.perf_counter()
    assert _post(url + "/api/v1/verify/batch", body, ctype) == 200
    return time.perf_counter() - start


def resaved(pdf: bytes, tmp: Path) -> bytes:
    src, out = tmp / "in.pdf", tmp / "out.pdf"
    src.write_bytes(pdf)
    subprocess.run(["qpdf", str(src), str(out)], check=True)
    return out.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home, paths = setup(work, args.files)
        listed = [(p.name, p.read_bytes()) for p in paths]
        copies = [(f"resaved-{n}", resaved(d, work)) for n, d in listed[: max(4, args.files // 4)]]
        from verifier.receipt import new_receipt_key

        key, cert = new_receipt_key(work / "receipt", "bench", time_now())
        app = create_app(
            {
                "issuers": [
                    {"name": "demo", "trust_dir": str(home / "keys"), "source": str(work / "site")}
                ],
                "counts_db": str(work / "counts.sqlite"),
                "receipt_key": str(key),
                "receipt_cert": str(cert),
                "batch_max_files": 1000,
                "batch_max_bytes": 200 * 1024 * 1024,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        try:
            bulk(url, listed[:2])  # warm: the status list loaded, the parse process started
            rows, figures = [], {}
            for kind, files in (("listed", listed), ("re-saved (unlisted)", copies)):
                a, b, r = [], [], []
                for _ in range(args.rounds):  # A B A B: drift hits both alike
                    a.append(single(url, files))
                    b.append(bulk(url, files))
                    r.append(bulk(url, files, receipt=True))
                n = len(files)
                fa, fb, fr = n / min(a), n / min(b), n / min(r)
                rows.append([kind, n, fa, fb, fr, fb / fa])
                key_ = kind.split()[0].replace("-", "")
                figures |= {
                    f"{key_}_single_fps": round(fa, 1),
                    f"{key_}_bulk_fps": round(fb, 1),
                    f"{key_}_bulk_receipt_fps": round(fr, 1),
                    f"{key_}_ratio": round(fb / fa, 2),
                }
            table(
                "Files per second (best of the rounds), bulk against one request per file",
                ["files", "n", "single", "bulk", "bulk+receipt", "bulk/single"],
                rows,
            )
            emit("bulk", figures)
        finally:
            server.shutdown()


def time_now():  # type: ignore[no-untyped-def]
    from certseal.timeutil import utcnow

    return utcnow()


if __name__ == "__main__":
    main()
