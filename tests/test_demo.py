"""The README's demo end to end: ``scripts/demo.sh`` in a temporary HOME on a free port.

Its setup runs once (three real authorities, a real operator, real delivery to the local SMTP
sink and SFTP server); then ``demo.sh serve`` runs the national verifier behind nginx as the
README says, and the tests verify one diploma of each school over HTTP, read the delivered
mail and the WES upload, and look for the default port in every file the demo wrote.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCHOOLS = ("DEMO", "JADE", "JHMC")
DEFAULT = b"127.0.0.1:8080"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert port != 8080
    return port


@dataclass
class Demo:
    """Where the demo ran: its environment, its output folder, its home, its port."""

    env: dict[str, str]
    out: Path
    home: Path
    port: int
    printed: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def documents(self, school: str) -> list[dict[str, Any]]:
        """The school's registry as ``certseal authority --json list`` gives it."""
        run = subprocess.run(
            ["certseal", "authority", "--json", "list"],
            env={**self.env, "CERTSEAL_HOME": str(self.home / "schools" / school)},
            capture_output=True,
            check=True,
        )
        docs: list[dict[str, Any]] = json.loads(run.stdout)
        return docs

    def document_bytes(self, school: str, doc: dict[str, Any]) -> bytes:
        return (self.home / "schools" / school / str(doc["path"])).read_bytes()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    base = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CERTSEAL_") and k != "XDG_RUNTIME_DIR"
    }
    env.update(
        HOME=str(base / "home"),
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
        CERTSEAL_DEMO_PORT=str(port),
        CERTSEAL_DEMO_OUT=str(base / "out"),
        CERTSEAL_DEMO_SERVE="0",
        CERTSEAL_DEMO_SETUP="0",  # the tests already run inside the set-up virtualenv
    )
    run = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return Demo(env, base / "out", base / "home" / ".local/share/certseal-demo", port, run.stdout)


@pytest.fixture(scope="module")
def served(demo: Demo) -> Iterator[str]:
    """``bash scripts/demo.sh serve``: nginx in front, gunicorn behind, until SIGTERM."""
    proc = subprocess.Popen(
        ["bash", "scripts/demo.sh", "serve"],
        cwd=ROOT,
        env=demo.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"the demo's server stopped: {proc.stderr!r}")
            try:
                urllib.request.urlopen(demo.url + "/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the demo's server did not start")
        yield demo.url
    finally:
        proc.send_signal(signal.SIGTERM)  # the same orderly stop as Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def verify(url: str, data: bytes) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "/api/v1/verify?lang=en",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        answer: dict[str, Any] = json.load(r)
    return answer


def test_three_schools_are_admitted_published_and_on_the_national_site(demo: Demo) -> None:
    site = demo.out / "site"
    operator = demo.home / "federation"
    run = subprocess.run(
        ["certseal", "federation", "--home", operator, "--json", "list"],
        env=demo.env,
        capture_output=True,
        check=True,
    )
    listed = {s["id"]: s for s in json.loads(run.stdout)}
    assert sorted(listed) == sorted(SCHOOLS)
    assert listed["JHMC"]["lifecycle"][-1] | {"at": ""} == {
        "state": "merged",
        "at": "",
        "successor": "JADE",
    }
    assert listed["JADE"]["predecessors"] == ["JHMC"]
    long_name = listed["JADE"]["name_en"]
    assert len(long_name) >= 72, long_name
    for sid in SCHOOLS:
        assert (site / "schools" / sid / "status" / "timestamp.json").is_file()
        assert (site / "schools" / sid / "log").is_dir()
        assert listed[sid]["status_list_url"] == f"{demo.url}/schools/{sid}/status/"
        assert listed[sid]["log_url"] == f"{demo.url}/schools/{sid}/log/"
        assert list((demo.out / "samples" / sid).glob("genuine-diploma.pdf")), sid
        assert f"samples/{sid}/genuine-diploma.pdf" in demo.printed
    assert (site / "trust" / "metadata" / "timestamp.json").is_file()
    page = (site / "en" / "schools.html").read_text()
    assert long_name in page and "National Jade Harbour Maritime College" in page
    assert f"curl -s {demo.url}/api/v1/status" in demo.printed


def test_a_diploma_from_each_school_verifies_through_nginx(demo: Demo, served: str) -> None:
    answers = {
        sid: verify(served, (demo.out / "samples" / sid / "genuine-diploma.pdf").read_bytes())
        for sid in SCHOOLS
    }
    for sid, body in answers.items():
        assert body["result"] == "success", (sid, body)
        assert body["document"]["issuer_code"] == sid, body
    assert answers["DEMO"]["document"]["school_state"] == "active"
    merged = answers["JHMC"]["document"]
    assert merged["school_state"] == "merged"
    assert merged["records_kept_by"]["code"] == "JADE"
    assert merged["records_kept_by"]["name"].startswith("National Jade Harbour University")
    tampered = verify(served, (demo.out / "samples/DEMO/tampered-diploma.pdf").read_bytes())
    assert tampered["result"] == "failure", tampered
    # Every answer came through nginx: its access log in the demo's run folder has them. nginx
    # writes a request's line after it has sent the answer, so the last one may lag a moment.
    access = demo.home / "run" / "access.log"
    for _ in range(100):
        log = access.read_text()
        if len(re.findall(r"POST /api/v1/verify", log)) >= 4:
            break
        time.sleep(0.1)
    assert len(re.findall(r"POST /api/v1/verify", log)) >= 4, log


def _attachments(message: EmailMessage) -> list[bytes]:
    out = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if part.get_content_type() == "application/pdf" and isinstance(data, bytes):
            out.append(data)
    return out


def test_mail_is_left_as_eml_files_with_the_signed_pdf_byte_for_byte(demo: Demo) -> None:
    files = sorted((demo.out / "mail").glob("*.eml"))
    assert files, "no .eml in demo-out/mail"
    issued = {
        hashlib.sha256(demo.document_bytes("DEMO", d)).hexdigest(): d
        for d in demo.documents("DEMO")
    }
    recipients = set()
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        pdfs = _attachments(message)
        assert len(pdfs) == 1, path
        doc = issued.get(hashlib.sha256(pdfs[0]).hexdigest())
        assert doc is not None, f"{path.name}: the attachment is not a file the school issued"
        assert pdfs[0] == demo.document_bytes("DEMO", doc)
        assert doc["state"] == "active", (path.name, doc)
        recipients.add(str(message["To"]))
    # The diplomas went to the graduates, the ordered documents to each order's recipients.
    assert any("@demo.edu.tw" in r for r in recipients), recipients
    assert any("records@evaluations.example" in r for r in recipients), recipients
    assert f"{len(files)} messages in {demo.out / 'mail'}/" in demo.printed


def test_the_wes_upload_is_in_the_local_sftp_folder(demo: Demo) -> None:
    uploads = sorted((demo.out / "wes").iterdir())
    assert [p.name.split("_")[0] for p in uploads] == ["6123456"], uploads
    doc_id = uploads[0].name.removeprefix("6123456_").removesuffix(".pdf")
    doc = next(d for d in demo.documents("DEMO") if d["doc_id"] == doc_id)
    assert doc["type"] == "transcript"
    assert uploads[0].read_bytes() == demo.document_bytes("DEMO", doc)
    assert uploads[0].name in demo.printed


def _qr(pdf: Path, tmp: Path) -> str:
    """The QR code's payload, read by an independent decoder from the rendered first page."""
    subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1", pdf, tmp / "page"],
        check=True,
    )
    page = next(tmp.glob("page*.png"))
    run = subprocess.run(["zbarimg", "-q", "--raw", page], capture_output=True, text=True)
    page.unlink()
    return run.stdout.strip()


def test_nothing_the_demo_wrote_names_the_default_port(demo: Demo, tmp_path: Path) -> None:
    for tool in ("pdftotext", "pdftoppm", "qpdf", "zbarimg"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/setup.sh"
    ours = f"127.0.0.1:{demo.port}"
    pdfs = []
    for folder in (demo.out, demo.home):
        for path in folder.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            if path.suffix == ".pdf":
                pdfs.append(path)
                continue
            assert DEFAULT not in path.read_bytes(), path
    assert pdfs
    for pdf in pdfs:
        text = subprocess.run(
            ["pdftotext", "-q", pdf, "-"], capture_output=True, text=True, check=False
        ).stdout
        assert "127.0.0.1:8080" not in text, pdf
        # Attachments and metadata too: every stream uncompressed.
        raw = subprocess.run(
            ["qpdf", "--stream-data=uncompress", "--object-streams=disable", pdf, "-"],
            capture_output=True,
            check=False,
        ).stdout
        assert DEFAULT not in raw, pdf
    for sid in SCHOOLS:
        page = f"http://{ours}/schools/{sid}/"
        sample = demo.out / "samples" / sid / "genuine-diploma.pdf"
        text = subprocess.run(
            ["pdftotext", sample, "-"], capture_output=True, text=True, check=True
        ).stdout
        assert page in text, sid  # the footer
        assert _qr(sample, tmp_path) == page, sid
        checkpoint = demo.out / "site" / "schools" / sid / "log" / "checkpoint"
        assert checkpoint.read_text().splitlines()[0] == f"{ours}/schools/{sid}/log"
        issuers = (demo.out / "site" / "schools" / sid / "issuers.html").read_text()
        assert page in issuers, sid
    trust_log = (demo.out / "site" / "trust" / "log" / "checkpoint").read_text()
    assert trust_log.splitlines()[0] == f"{ours}/trust/log"
    transcript = demo.out / "samples" / "DEMO" / "transcript-limit-3.pdf"
    assert _qr(transcript, tmp_path) == f"http://{ours}/schools/DEMO/"
