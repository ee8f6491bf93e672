"""The demo's files: its three fictional schools, their classes, an orders file and the samples.

``scripts/demo.sh`` drives the ``certseal`` commands; the bits that are easier to write in Python
than in shell live here, one sub-command each. Every name in the demo is fictional: no real
school's name, marks or people.

    python scripts/demo_data.py schools --port 8080 --out DIR   # DEMO.json, JADE.json, JHMC.json
    python scripts/demo_data.py class --first 8 --out DIR       # a slice of the sample class
    python scripts/demo_data.py orders --out FILE               # DEMO's orders, one for WES
    python scripts/demo_data.py diplomas 3                      # numbers of the first diplomas
    python scripts/demo_data.py samples --home H --out DIR      # files to try, from $CERTSEAL_HOME
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from authority.config import DEMO_SCHOOL, School
from delivery.orders import COLUMNS as ORDER_COLUMNS

WES_REF = "6123456"
"""The WES reference number of the demo's one order sent to WES (a fictional one)."""

# A long English name (81 characters) and a school merged into it after issuing, as NKUST was
# formed from three schools in 2018; both fictional.
JADE = {
    "code": "JADE",
    "name_zh": "國立玉港海洋科技大學",
    "name_en": "National Jade Harbour University of Applied Science, Technology and Ocean Affairs",
    "president_zh": "蘇靜嵐",
    "president_en": "Ching-Lan Su",
    "registrar_zh": "教務處註冊與課務組",
    "registrar_en": "Office of Academic Affairs, Registration and Curriculum Division",
    "certificate_number": "({roc_year})玉港字第{serial}號",
}
JHMC = {
    "code": "JHMC",
    "name_zh": "國立玉港海事專科學校",
    "name_en": "National Jade Harbour Maritime College",
    "president_zh": "何志遠",
    "president_en": "Chih-Yuan Ho",
    "registrar_zh": "教務處註冊組",
    "registrar_en": "Office of Academic Affairs, Registration Division",
    "certificate_number": "({roc_year})玉海字第{serial}號",
}
"""Merged into JADE after it issued its class: its documents name JADE as keeping its records."""


def verify_url(port: int, code: str) -> str:
    """The school's own verification site, printed on its documents (QR code and footer).

    The national host serves each school's published folder there, as the school's own web host
    would; its pages verify through the national verifier on the same origin. One address per
    school also names each school's transparency log apart (its origin is this address's).
    """
    return f"http://127.0.0.1:{port}/schools/{code}/"


def schools(port: int) -> list[School]:
    """The three schools, their addresses at this port."""
    return [
        replace(DEMO_SCHOOL, verify_url=verify_url(port, DEMO_SCHOOL.code)),
        School.from_dict({**JADE, "verify_url": verify_url(port, JADE["code"])}),
        School.from_dict({**JHMC, "verify_url": verify_url(port, JHMC["code"])}),
    ]


def _sample(name: str) -> list[dict[str, str]]:
    data = resources.files("authority").joinpath("sample_data", name).read_text("utf-8-sig")
    return list(csv.DictReader(io.StringIO(data)))


def _write_csv(path: Path, rows: list[dict[str, str]], columns: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def write_class(out: Path, first: int) -> list[str]:
    """The first ``first`` graduates of the sample class, with their courses and ranks."""
    out.mkdir(parents=True, exist_ok=True)
    graduates = _sample("graduates.csv")[:first]
    ids = {g["student_id"] for g in graduates}
    for name, rows in (
        ("graduates.csv", graduates),
        ("courses.csv", [r for r in _sample("courses.csv") if r["student_id"] in ids]),
        ("ranks.csv", [r for r in _sample("ranks.csv") if r["student_id"] in ids]),
    ):
        _write_csv(out / name, rows, _sample(name)[0].keys())
    return [g["student_id"] for g in graduates]


def orders() -> list[dict[str, str]]:
    """DEMO's orders: transcripts for three graduates (one also to WES, one to two schools
    abroad), a rank certificate and an English degree certificate."""
    with_courses = list(dict.fromkeys(r["student_id"] for r in _sample("courses.csv")))[:3]
    ranked = _sample("ranks.csv")[0]["student_id"]
    first = _sample("graduates.csv")[0]["student_id"]

    def row(order: str, student: str, doc_type: str, **kw: str) -> dict[str, str]:
        base = dict.fromkeys(ORDER_COLUMNS, "")
        return {**base, "order_id": order, "student_id": student, "doc_type": doc_type, **kw}

    a, b, c = with_courses
    return [
        row(
            "ORD-2026-0001",
            a,
            "transcript",
            language="en",
            wes_ref=WES_REF,
            note="For my credential evaluation.",
            recipient_kind="original",
            recipient_email="records@evaluations.example",
            recipient_name="Credential Evaluation Office",
        ),
        row(
            "ORD-2026-0002",
            b,
            "transcript",
            language="en",
            asuid="1234567890",
            recipient_kind="original",
            recipient_email="graduate.admissions@university.example",
            recipient_name="Graduate Admissions",
        ),
        row(
            "ORD-2026-0002",
            b,
            "transcript",
            language="en",
            asuid="1234567890",
            recipient_kind="copy",
            recipient_email="applicant@example.com",
            recipient_name="Applicant's own copy",
        ),
        row(
            "ORD-2026-0003",
            c,
            "transcript",
            recipient_kind="institution",
            recipient_email="hr@employer.example",
            recipient_name="人力資源部",
        ),
        row(
            "ORD-2026-0004",
            ranked,
            "rank_certificate",
            recipient_kind="institution",
            recipient_email="admissions@graduate-school.example",
            recipient_name="研究所招生委員會",
        ),
        row(
            "ORD-2026-0005",
            first,
            "degree_certificate_en",
            language="en",
            recipient_kind="institution",
            recipient_email="visa@embassy.example",
            recipient_name="Visa Section",
        ),
    ]


def _documents() -> list[dict[str, Any]]:
    """The registry of the authority in ``$CERTSEAL_HOME``, as its own command lists it."""
    run = subprocess.run(
        ["certseal", "authority", "--json", "list"], capture_output=True, check=True
    )
    docs: list[dict[str, Any]] = json.loads(run.stdout)
    return docs


def pick_diplomas(count: int) -> list[str]:
    """The first ``count`` Chinese diplomas issued, by document number."""
    ids = [d["doc_id"] for d in _documents() if d["type"] == "diploma_zh"]
    return ids[:count]


def write_samples(
    home: Path, out: Path, *, superseded: str = "", revoked: str = "", variants: bool = False
) -> list[Path]:
    """Copy files to try out of the authority's home: its first active diploma, and with
    ``variants`` the copies that must fail (tampered, appended, zipped)."""
    out.mkdir(parents=True, exist_ok=True)
    docs = _documents()
    by_id = {d["doc_id"]: d for d in docs}
    written = []

    def copy(doc: dict[str, Any], name: str) -> None:
        shutil.copyfile(home / doc["path"], out / name)
        written.append(out / name)

    genuine = next(
        d
        for d in docs
        if d["type"] == "diploma_zh"
        and d["doc_id"] not in (superseded, revoked)
        and d.get("state", "active") == "active"
    )
    copy(genuine, "genuine-diploma.pdf")
    english = next((d for d in docs if d["type"] == "diploma_en"), None)
    if english is not None:
        copy(english, "genuine-diploma-en.pdf")
    if superseded:
        copy(by_id[superseded], "superseded-diploma.pdf")
    if revoked:
        copy(by_id[revoked], "revoked-diploma.pdf")
    transcript = next((d for d in docs if d["type"] == "transcript"), None)
    if transcript is not None:
        copy(transcript, "transcript-limit-3.pdf")
    if variants:
        data = (out / "genuine-diploma.pdf").read_bytes()
        mid = len(data) // 3
        variant = {
            "tampered-diploma.pdf": data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1 :],
            "appended-diploma.pdf": data + b"\n% added after signing\n",
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("genuine-diploma.pdf", data)
        variant["diploma-in-a-zip.zip"] = buf.getvalue()
        for name, body in variant.items():
            (out / name).write_bytes(body)
            written.append(out / name)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("schools", help="write each school's settings (certseal authority init)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("class", help="write a slice of the sample class")
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("orders", help="write DEMO's orders CSV")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("diplomas", help="print the first N Chinese diplomas' numbers")
    p.add_argument("count", type=int)
    p = sub.add_parser("samples", help="copy files to try from $CERTSEAL_HOME")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--superseded", default="")
    p.add_argument("--revoked", default="")
    p.add_argument("--variants", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "schools":
        args.out.mkdir(parents=True, exist_ok=True)
        for school in schools(args.port):
            path = args.out / f"{school.code}.json"
            path.write_text(json.dumps(school.to_dict(), ensure_ascii=False, indent=2) + "\n")
            print(f"   {path.name}: {school.name_en} ({len(school.name_en)} characters)")
    elif args.command == "class":
        ids = write_class(args.out, args.first)
        print(f"   {len(ids)} graduates in {args.out}")
    elif args.command == "orders":
        rows = orders()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        _write_csv(args.out, rows, ORDER_COLUMNS)
    elif args.command == "diplomas":
        print(" ".join(pick_diplomas(args.count)))
    else:
        for path in write_samples(
            args.home,
            args.out,
            superseded=args.superseded,
            revoked=args.revoked,
            variants=args.variants,
        ):
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            print(f"   {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
