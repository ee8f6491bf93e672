"""``certseal verify`` without the web layer: against the published folder, against the site's
URL, and against a stored snapshot once that URL is gone; exit codes per verdict."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from cli.verify_cmds import EXIT
from tests.conftest import Issued
from tests.evaluators.conftest import make_zip
from tests.verifier.conftest import LiveServer, verifier_config
from verifier.app import create_app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_exit_codes_per_verdict(issued: Issued) -> None:
    trust = ["--trust-dir", str(issued.home / "keys"), "--source", str(issued.published)]
    assert run("verify", str(issued.paths["genuine"]), *trust)[0] == EXIT["success"] == 0
    assert run("verify", str(issued.paths["superseded"]), *trust)[0] == EXIT["warning"] == 10
    code, out = run("verify", str(issued.paths["revoked"]), *trust)
    assert code == EXIT["failure"] == 11
    assert "revoked" in out and "voided" in out
    assert "not counted offline" in out and "Status as of" in out


def test_a_folder_and_a_zip_at_once_in_json(issued: Issued, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for role in ("genuine", "transcript"):
        (folder / f"{role}.pdf").write_bytes(issued.pdf(role))
    (folder / "notes.txt").write_text("not a document: skipped in a folder")
    (folder / "more.zip").write_bytes(make_zip([("r.pdf", issued.pdf("revoked"))]))
    code, out = run(
        "verify", str(folder), "--json", "--trust-dir", str(issued.home / "keys"),
        "--source", str(issued.published),
    )  # fmt: skip
    assert code == 11
    body = json.loads(out[out.index("{") :])
    assert [(Path(f["name"]).name, f["result"]) for f in body["files"]] == [
        ("genuine.pdf", "success"),
        ("r.pdf", "failure"),
        ("transcript.pdf", "success"),
    ]
    assert body["counted"] is False and body["status_as_of"]
    transcript = body["files"][2]
    assert transcript["verifications"] is None
    count = next(c for c in transcript["checks"] if c["name"] == "verification_count")
    assert count["status"] == "skipped" and "offline" in count["detail"]


def test_snapshot_works_without_the_network(issued: Issued, tmp_path: Path) -> None:
    server = LiveServer(
        create_app(verifier_config(issued, tmp_path, site_dir=str(issued.published)))
    )
    keys = str(issued.home / "keys")
    snap = tmp_path / "snapshot"
    try:
        code, out = run("snapshot", "fetch", server.url, "--trust-dir", keys, "--out", str(snap))
        assert code == 0, out
        assert "Stored status list version" in out
        online = run(
            "verify", str(issued.paths["genuine"]), "--trust-dir", keys, "--source", server.url
        )
        assert online[0] == 0, online[1]
    finally:
        server.stop()
    # The site is gone: the URL cannot answer, the snapshot can.
    code, out = run(
        "verify", str(issued.paths["genuine"]), "--trust-dir", keys, "--source", server.url
    )
    assert code == 11 and "status_unavailable" in out
    code, out = run(
        "verify", str(issued.paths["genuine"]), str(issued.paths["revoked"]),
        "--trust-dir", keys, "--snapshot", str(snap),
    )  # fmt: skip
    assert code == 11, out
    assert out.startswith("OK ") or "OK   " in out
    assert "Status as of" in out and "(snapshot:" in out
    # The transparency log is checked from the snapshot too.
    code, out = run(
        "verify", str(issued.paths["genuine"]), "--json", "--trust-dir", keys,
        "--snapshot", str(snap),
    )  # fmt: skip
    body = json.loads(out[out.index("{") :])
    log = next(c for c in body["files"][0]["checks"] if c["name"] == "transparency_log")
    assert log["status"] == "passed"
    assert body["snapshot"] is True


def test_snapshot_never_overwrites(issued: Issued, tmp_path: Path) -> None:
    out_dir = tmp_path / "snap"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    code, out = run(
        "snapshot", "fetch", str(issued.published), "--trust-dir", str(issued.home / "keys"),
        "--out", str(out_dir),
    )  # fmt: skip
    assert code == 3 and "not empty" in out
    assert (out_dir / "keep.txt").read_text() == "mine"


def test_tampered_snapshot_is_refused(issued: Issued, tmp_path: Path) -> None:
    keys = str(issued.home / "keys")
    snap = tmp_path / "snap"
    assert (
        run("snapshot", "fetch", str(issued.published), "--trust-dir", keys, "--out", str(snap))[0]
        == 0
    )
    sha = hashlib.sha256(issued.pdf("genuine")).hexdigest().encode()
    shard = next(p for p in (snap / "status" / "shards").iterdir() if sha in p.read_bytes())
    shard.write_bytes(shard.read_bytes().replace(b'"limit"', b'"limit" ', 1))
    code, out = run(
        "verify", str(issued.paths["genuine"]), "--trust-dir", keys, "--snapshot", str(snap)
    )
    assert code == 11 and "status_unavailable" in out


def test_not_a_snapshot(issued: Issued, tmp_path: Path) -> None:
    code, out = run(
        "verify", str(issued.paths["genuine"]), "--trust-dir", str(issued.home / "keys"),
        "--snapshot", str(tmp_path),
    )  # fmt: skip
    assert code == 3 and "not a snapshot" in out
