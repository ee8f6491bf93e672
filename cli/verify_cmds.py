"""``certseal verify``, ``certseal receipt`` and ``certseal snapshot``: for credential evaluators.

``verify`` runs the verifier's engine on this machine, without the web layer; ``snapshot fetch``
stores a verifiable copy of an issuer's status list so that ``verify`` needs no network;
``receipt check`` lets anyone re-check a signed receipt later (docs/evaluators.md).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from certseal.errors import ConfigurationError, InputError
from certseal.pki import load_certificates
from certseal.receipt import check_receipt, match_files
from certseal.timeutil import utcnow
from verifier.batch import ZIP_MAGIC, BatchLimits, BatchRefused, Upload, expand
from verifier.config import IssuerConfig
from verifier.engine import DEFAULT_MAX_BYTES
from verifier.messages import Lang, check_detail, reason_message
from verifier.offline import fetch_snapshot, not_counted, offline_verifier, read_snapshot_info
from verifier.receipt import new_receipt_key
from verifier.result import Verification
from verifier.status import IssuerTrust

# Exit codes of ``certseal verify`` (docs/evaluators.md); 1 to 4 are the CLI's own errors.
EXIT = {"success": 0, "warning": 10, "failure": 11}
# Files a folder contributes: the documents, and ZIP files of them.
FOLDER_SUFFIXES = (".pdf", ".zip")
# An offline run has no request size to protect: only the archive checks apply.
OFFLINE_LIMITS = BatchLimits(max_files=100_000, max_total_bytes=1 << 40)


def _trust(trust_dir: Path, source: str) -> IssuerTrust:
    cfg = IssuerConfig.from_dict({"name": "issuer", "trust_dir": str(trust_dir), "source": source})
    return IssuerTrust.from_files(cfg.name, list(cfg.roots), list(cfg.status_certs), cfg.source)


def _source(source: str | None, snapshot: Path | None) -> str:
    if (source is None) == (snapshot is None):
        raise ConfigurationError(
            "give --source (a published folder or the site's URL) or --snapshot, one of them",
            "請提供 --source（公布資料夾或網站網址）或 --snapshot，擇一",
        )
    if snapshot is not None:
        if read_snapshot_info(snapshot) is None:
            raise ConfigurationError(
                f"{snapshot} is not a snapshot stored by 'certseal snapshot fetch'",
                f"{snapshot} 不是以 certseal snapshot fetch 儲存的快照",
            )
        return str(snapshot.resolve())
    assert source is not None
    return source if "://" in source else str(Path(source).resolve())


def _paths(args: tuple[Path, ...]) -> list[Path]:
    """The files named, and in each folder named, its PDF and ZIP files (sorted)."""
    out: list[Path] = []
    for p in args:
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in FOLDER_SUFFIXES
            )
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"no such file or folder: {p}", f"找不到檔案或資料夾：{p}")
    if not out:
        raise InputError("no PDF or ZIP file to verify", "沒有可驗證的 PDF 或 ZIP 檔案")
    return out


def _files(path: Path) -> Iterator[tuple[str, bytes, Verification | None]]:
    """A path's files: itself, or a ZIP file's entries; an archive refused is one answer."""
    data = path.read_bytes()
    if data[:4] not in ZIP_MAGIC:
        yield str(path), data, None
        return
    try:
        entries = expand([Upload(str(path), data)], OFFLINE_LIMITS, DEFAULT_MAX_BYTES)
    except BatchRefused as e:
        yield str(path), data, e.answer
        return
    for u in entries:
        yield u.name, u.data, None


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--trust-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder with the issuer's root.pem and statuslist.pem, obtained from the school.",
)
@click.option("--source", help="The issuer's published folder, or its site's URL.")
@click.option(
    "--snapshot",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A snapshot stored by 'certseal snapshot fetch': no network needed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every answer as JSON.")
@click.option("--lang", type=click.Choice(["en", "zh-TW"]), default="en", show_default=True)
def verify_command(
    files: tuple[Path, ...],
    trust_dir: Path,
    source: str | None,
    snapshot: Path | None,
    as_json: bool,
    lang: Lang,
) -> None:
    """Verify documents on this machine with the verifier's own engine.

    FILES are PDF files, ZIP files of them, or folders (their PDF and ZIP files). Exit code:
    0 every file verified, 10 at least one warning and no failure, 11 at least one failure
    (1 to 4: the command could not run). Verifications are not counted offline.
    """
    src = _source(source, snapshot)
    verifier = offline_verifier(_trust(trust_dir, src))
    now = utcnow()
    paths = _paths(files)
    answers: list[tuple[str, bytes, Verification]] = []
    with click.progressbar(
        paths, label="Verifying", file=sys.stderr, show_pos=True, hidden=len(paths) < 2
    ) as bar:
        for path in bar:
            for name, data, refused in _files(path):
                v = refused or not_counted(verifier.verify(data, now))
                answers.append((name, data, v))
    worst = max((v.result for _, _, v in answers), key=list(EXIT).index)
    as_of = next((v.status_list for _, _, v in answers if v.status_list is not None), None)
    if as_json:
        click.echo(json.dumps(_json(answers, lang, snapshot, as_of), ensure_ascii=False, indent=2))
    else:
        for name, _, v in answers:
            _print(name, v, lang)
        if as_of is not None:
            kind = "snapshot" if snapshot is not None else "published list"
            click.echo(
                f"\nStatus as of {as_of.issued_at} ({kind}: status list version {as_of.version} "
                f"of {as_of.issuer}, valid until {as_of.expires})."
            )
        click.echo(
            "Verifications are not counted offline: only the school's verification service "
            "counts them."
        )
    sys.exit(EXIT[worst])


def _json(
    answers: list[tuple[str, bytes, Verification]], lang: Lang, snapshot: Path | None, as_of: Any
) -> dict[str, Any]:
    return {
        "result": max((v.result for _, _, v in answers), key=list(EXIT).index),
        "status_as_of": None if as_of is None else as_of.issued_at,
        "status_list": None if as_of is None else as_of.to_dict(),
        "snapshot": snapshot is not None,
        "counted": False,
        "files": [
            {"name": n, "sha256": hashlib.sha256(d).hexdigest(), **v.to_dict(lang)}
            for n, d, v in answers
        ],
    }


def _print(name: str, v: Verification, lang: Lang) -> None:
    mark = {"success": "OK  ", "warning": "WARN", "failure": "FAIL"}[v.result]
    line = f"{mark} {name}"
    doc = v.document
    if doc is not None and doc.type is not None:
        type_name = (doc.type_name or {}).get(lang, doc.type)
        issuer = (doc.issuer_name or {}).get(lang, doc.issuer)
        line += f" — {type_name}, {issuer}, issued {doc.issued_at}"
    click.echo(line)
    for r in v.reasons:
        click.echo(f"     {r.code}: {reason_message(r.code, lang, r.params)}")
    if v.result == "failure" and not v.reasons:  # pragma: no cover - a failure has reasons
        click.echo(f"     {check_detail('internal_error', lang, {})}")


@click.group("receipt")
def receipt() -> None:
    """Signed verification receipts (docs/receipts.md)."""


@receipt.command("check")
@click.argument("receipt_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The verifier's receipt certificate, as its operator publishes it.",
)
@click.option("--pin", help="The SHA-256 fingerprint of the verifier's receipt certificate.")
@click.option("--json", "as_json", is_flag=True, help="Print the checked receipt as JSON.")
def receipt_check(
    receipt_file: Path,
    files: tuple[Path, ...],
    cert_file: Path | None,
    pin: str | None,
    as_json: bool,
) -> None:
    """Check that RECEIPT_FILE was signed by the verifier and not changed since.

    Give FILES to check that they are the very files the receipt lists (by SHA-256). Exits 0
    when the receipt holds (whatever the verdicts it records), 1 when it does not.
    """
    certs = load_certificates(cert_file.read_bytes()) if cert_file else []
    checked = check_receipt(receipt_file.read_bytes(), certificates=certs, pin=pin)
    r = checked.receipt
    matched = match_files(r, {str(p): p.read_bytes() for p in files})
    if as_json:
        out = {
            "valid": True,
            "certificate_sha256": checked.fingerprint,
            "receipt": r.to_signed(),
            "matched": {name: f.name for name, f in matched.items()},
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"Receipt {r.receipt_id} is genuine: signed by {r.verifier} "
        f"(certificate {checked.fingerprint}) on {r.checked_at:%Y-%m-%d %H:%M:%S} UTC."
    )
    click.echo(f"Overall result: {r.result}; {len(r.files)} file(s):")
    for f in r.files:
        codes = ", ".join(x.code for x in f.reasons)
        click.echo(
            f"  {f.result:<8} {f.name}  sha256 {f.sha256 or '-'}"
            + (f"  ({codes})" if codes else "")
        )
    for s in r.status_lists:
        click.echo(
            f"Status list: {s.get('issuer')} version {s.get('version')} of {s.get('issued_at')}"
        )
    if not r.counted:
        click.echo("The verifications were not counted (an offline check).")
    for name, f in matched.items():
        click.echo(f"{name}: the same bytes as {f.name} in the receipt.")


@receipt.command("new-key")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", required=True, help="How receipts name this verifier (its address).")
@click.option("--days", default=825, show_default=True, type=int)
def receipt_new_key(out: Path, name: str, days: int) -> None:
    """Create the verifier's receipt key and certificate (the key encrypted with
    CERTSEAL_RECEIPT_PASSPHRASE if set). Publish the certificate; configure both files."""
    key, cert = new_receipt_key(out, name, utcnow(), days)
    click.echo(f"Receipt key: {key}\nCertificate to publish: {cert}")


@click.group("snapshot")
def snapshot() -> None:
    """A verifiable copy of an issuer's status list, for verifying without a network."""


@snapshot.command("fetch")
@click.argument("source")
@click.option(
    "--trust-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder with the issuer's root.pem and statuslist.pem, obtained from the school.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
def snapshot_fetch(source: str, trust_dir: Path, out: Path) -> None:
    """Store SOURCE's current status list (and its log tiles) in OUT, every file checked."""
    src = source if "://" in source else str(Path(source).resolve())
    info = fetch_snapshot(src, _trust(trust_dir, src), out, utcnow())
    click.echo(
        f"Stored status list version {info.version} of {info.issuer} ({info.files} files) in "
        f"{out}: status as of {info.issued_at}, valid until {info.expires}."
    )


def register(main: click.Group) -> None:
    main.add_command(verify_command)
    main.add_command(receipt)
    main.add_command(snapshot)
