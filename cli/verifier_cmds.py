"""``certseal verifier``: run the public verification service."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from certseal.errors import ConfigurationError
from verifier.config import VerifierConfig


@click.group()
def verifier() -> None:
    """The public verification service."""


@verifier.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON settings file (see docs/verifier.md).",
)
@click.option(
    "--trust-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with the issuer's root.pem and statuslist.pem.",
)
@click.option("--source", help="The published folder, or the URL of the published site.")
@click.option(
    "--site-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also serve this published static site at /.",
)
@click.option(
    "--counts-db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file for verification counts [default: ~/.local/state/certseal/verifier].",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(
    config_file: Path | None,
    trust_dir: Path | None,
    source: str | None,
    site_dir: Path | None,
    counts_db: Path | None,
    host: str,
    port: int,
    workers: int,
) -> None:
    """Run the verifier under gunicorn (the production server)."""
    env = dict(os.environ)
    if config_file:
        env["CERTSEAL_VERIFIER_CONFIG"] = str(config_file.resolve())
    elif trust_dir and source:
        env["CERTSEAL_TRUST_DIR"] = str(trust_dir.resolve())
        env["CERTSEAL_STATUS_SOURCE"] = source if "://" in source else str(Path(source).resolve())
    else:
        raise ConfigurationError(
            "give --config, or --trust-dir and --source",
            "請提供 --config，或 --trust-dir 與 --source",
        )
    if site_dir:
        env["CERTSEAL_SITE_DIR"] = str(site_dir.resolve())
    if counts_db:
        env["CERTSEAL_COUNTS_DB"] = str(counts_db.resolve())
    # Fail here, with a plain message, rather than in every worker.
    VerifierConfig.from_env(env)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise ConfigurationError("gunicorn is not installed", "未安裝 gunicorn")
    args = [
        gunicorn,
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "30",
        "--access-logfile",
        "-",
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        "verifier.app:create_app()",
    ]
    os.execve(gunicorn, args, env)  # noqa: S606 - replace this process with the server
