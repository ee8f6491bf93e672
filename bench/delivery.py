"""Delivery: messages per second to a local SMTP server (aiosmtpd on 127.0.0.1).

Ours: ``Delivery.run`` over queued deliveries of the sample class's signed diplomas: read the
PDF and check its hash, compose the bilingual message, DKIM-sign it (RSA 2048), record
``sending`` and ``sent`` in the outbox (SQLite, synchronous=FULL), send over one SMTP session.
Baseline in the same run, interleaved (A B A B): plain ``smtplib`` sends of one of those very
messages, already composed and signed, over one session, nothing recorded. The ratio is what
the outbox, composition and DKIM cost per message.

    .venv/bin/python -m bench.delivery [--batch 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import smtplib
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import emit, table

PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway benchmark key
SENDER = "registrar@demo.example.edu.tw"


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _setup(home: Path, port: int) -> None:
    from authority.config import DEMO_SCHOOL
    from authority.production import Producer
    from authority.service import Authority, IssueRequest, init_authority

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, now - dt.timedelta(days=1))
    data = resources.files("authority").joinpath("sample_data", "graduates.csv").read_bytes()
    with Authority(home) as auth:
        auth.import_records("graduates", data, now=now, actor="bench", source="bench")
        students = auth.registry.student_ids()[:10]
        for s in students:
            auth.record_collection(s, now.date(), doc_type="diploma_zh", now=now, actor="bench")
        auth.issue(
            [IssueRequest("diploma_zh", s) for s in students],
            now=now,
            actor="bench",
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (home / "dkim.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (home / "delivery.toml").write_text(
        '[mail]\nfrom = "registrar@demo.example.edu.tw"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        '[dkim]\ndomain = "demo.example.edu.tw"\nselector = "bench"\nkey_file = "dkim.key"\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=200, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from authority.service import Authority
    from delivery.service import Delivery
    from delivery.sink import free_port

    counter = _Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    rows = []
    ours_rates: list[float] = []
    base_rates: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            _setup(home, port)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            with Authority(home) as auth, Delivery(auth) as d:
                d.run(now=now, actor="bench")  # the first deliveries; warms everything up
                docs = sorted({v.doc_id for v in d.outbox.deliveries()})
                sample = d.outbox.deliveries()[0]
                pdf = (home / auth.registry.document(sample.doc_id).path).read_bytes()
                message = d.message(sample, pdf, d._dkim())
                for r in range(args.rounds):
                    now += dt.timedelta(minutes=1)
                    queued = 0
                    while queued < args.batch:
                        for doc_id in docs:
                            queued += len(d.resend(doc_id, now=now, actor="bench"))
                            if queued >= args.batch:
                                break
                    before = counter.count
                    start = time.perf_counter()
                    rep = d.run(now=now, actor="bench")
                    t_ours = time.perf_counter() - start
                    sent = rep.count("sent")
                    assert counter.count - before == sent == queued
                    start = time.perf_counter()
                    with smtplib.SMTP("127.0.0.1", port) as smtp:
                        for _ in range(sent):
                            smtp.sendmail(SENDER, [sample.address], message)
                    t_base = time.perf_counter() - start
                    ours_rates.append(sent / t_ours)
                    base_rates.append(sent / t_base)
                    rows.append((r + 1, sent, sent / t_ours, sent / t_base, t_ours / t_base))
    finally:
        controller.stop()
    table(
        f"Delivery: messages per second to a local SMTP server ({len(message)} bytes each)",
        ("round", "messages", "ours msg/s", "smtplib msg/s", "time ratio ours/baseline"),
        rows,
    )
    ours_best, base_best = max(ours_rates), max(base_rates)
    emit(
        "delivery",
        {
            "messages_per_round": rows[0][1],
            "ours_msgs_per_s": round(ours_best, 1),
            "baseline_msgs_per_s": round(base_best, 1),
            "ratio": round(base_best / ours_best, 2),
            "message_bytes": len(message),
        },
    )


if __name__ == "__main__":
    main()
