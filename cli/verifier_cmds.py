"""``certseal verifier``: run the public verification service."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from certseal.errors import ConfigurationError
from verifier.config import VerifierConfig
from verifier.engine import DEFAULT_MAX_BYTES
from verifier.front import (
    ERROR_LOG_LEVELS,
    THREADS,
    FrontConfig,
    Served,
    find_program,
    gunicorn_argv,
    write_front,
)


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
    "--federation",
    "trust_list_url",
    help="National verifier: the URL of the federation's trust list (its trust/ folder).",
)
@click.option(
    "--root-pin",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --federation: the federation's first root (metadata/1.root.json).",
)
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
@click.option(
    "--threads",
    default=THREADS,
    show_default=True,
    type=click.IntRange(1),
    help="Threads per worker: more than the requests that may wait on parses at once.",
)
@click.option(
    "--front",
    type=click.Choice(["nginx", "none"]),
    default="nginx",
    show_default=True,
    help="nginx: nginx listens and buffers every request, gunicorn on a unix socket behind it. "
    "none: gunicorn listens itself — only behind your own buffering proxy.",
)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="This instance's sockets, nginx configuration and logs "
    "[default: $XDG_RUNTIME_DIR/certseal-verifier-PORT or ~/.local/state/certseal/run-PORT].",
)
def serve(
    config_file: Path | None,
    trust_dir: Path | None,
    source: str | None,
    trust_list_url: str | None,
    root_pin: Path | None,
    site_dir: Path | None,
    counts_db: Path | None,
    host: str,
    port: int,
    workers: int,
    threads: int,
    front: str,
    run_dir: Path | None,
) -> None:
    """Run the verifier: nginx in front of gunicorn (docs/deployment.md); Ctrl-C stops both."""
    env = dict(os.environ)
    if config_file:
        env["CERTSEAL_VERIFIER_CONFIG"] = str(config_file.resolve())
    elif trust_list_url and root_pin:
        env["CERTSEAL_TRUST_LIST_URL"] = trust_list_url
        env["CERTSEAL_ROOT_PIN"] = str(root_pin.resolve())
    elif trust_dir and source:
        env["CERTSEAL_TRUST_DIR"] = str(trust_dir.resolve())
        env["CERTSEAL_STATUS_SOURCE"] = source if "://" in source else str(Path(source).resolve())
    else:
        raise ConfigurationError(
            "give --config, or --trust-dir and --source, or --federation and --root-pin",
            "請提供 --config，或 --trust-dir 與 --source，或 --federation 與 --root-pin",
        )
    if site_dir:
        env["CERTSEAL_SITE_DIR"] = str(site_dir.resolve())
    if counts_db:
        env["CERTSEAL_COUNTS_DB"] = str(counts_db.resolve())
    # Fail here, with a plain message, rather than in every worker.
    cfg = VerifierConfig.from_env(env)
    gunicorn = find_program("gunicorn", Path(sys.executable).parent)
    if gunicorn is None:
        raise ConfigurationError("gunicorn is not installed", "未安裝 gunicorn")
    run = (run_dir or _default_run_dir(port)).resolve()
    if front == "none":
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = gunicorn_argv(
            gunicorn,
            f"{host}:{port}",
            control_socket=run / "gunicorn.ctl",
            workers=workers,
            threads=threads,
        )
        os.execve(gunicorn, args, env)  # noqa: S606 - replace this process with the server
    nginx = find_program("nginx")
    if nginx is None:
        raise ConfigurationError(
            "nginx is not installed (scripts/setup.sh installs it), or use --front none behind "
            "your own buffering proxy",
            "未安裝 nginx（scripts/setup.sh 會安裝），或在您自己的緩衝代理之後使用 --front none",
        )
    front_cfg = FrontConfig.for_verifier(cfg, run, listen=f"{host}:{port}")
    signal.signal(signal.SIGTERM, _exit_on_signal)
    served = Served(
        front_cfg, nginx=nginx, gunicorn=gunicorn, env=env, workers=workers, threads=threads
    )
    click.echo(f"Serving on {served.url}/ (nginx, gunicorn behind it; files in {run})")
    try:
        code = served.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        served.stop()
    sys.exit(code)


@verifier.command("front-config")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for verifier.conf and its error pages (e.g. /etc/certseal/nginx).",
)
@click.option("--listen", default="80", show_default=True, help="nginx's listen: PORT or HOST:PORT")
@click.option("--server-name", default="_", show_default=True)
@click.option(
    "--socket",
    "upstream",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="gunicorn's unix socket (its --bind unix:PATH).",
)
@click.option(
    "--site-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The published static site, served by nginx at /.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The verifier's JSON settings: its upload and batch limits and cors_origins are used "
    "(then --max-upload-bytes is not).",
)
@click.option("--max-upload-bytes", default=DEFAULT_MAX_BYTES, show_default=True, type=int)
@click.option("--conns-per-address", default=16, show_default=True, type=int)
@click.option(
    "--uploads-per-address",
    default=4,
    show_default=True,
    type=int,
    help="Uploads at once from one address; more are answered busy.",
)
@click.option(
    "--access-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("/var/log/nginx/certseal-verifier.access.log"),
    show_default=True,
)
@click.option(
    "--error-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("/var/log/nginx/certseal-verifier.error.log"),
    show_default=True,
)
@click.option(
    "--error-log-level",
    type=click.Choice(ERROR_LOG_LEVELS),
    default="crit",
    show_default=True,
    help="nginx writes the client's address in every error line about a request: lower it "
    "only while diagnosing the front.",
)
def front_config(
    out: Path,
    listen: str,
    server_name: str,
    upstream: Path,
    site_dir: Path | None,
    config_file: Path | None,
    max_upload_bytes: int,
    conns_per_address: int,
    uploads_per_address: int,
    access_log: Path,
    error_log: Path,
    error_log_level: str,
) -> None:
    """Write the nginx configuration for a production server (include it in nginx's http block)."""
    options = {
        "listen": listen,
        "server_name": server_name,
        "upstream_socket": upstream.resolve(),
        "conns_per_address": conns_per_address,
        "uploads_per_address": uploads_per_address,
        "access_log": access_log.resolve(),
        "error_log": error_log.resolve(),
        "error_log_level": error_log_level,
    }
    if config_file is not None:
        verifier_cfg = VerifierConfig.from_env({"CERTSEAL_VERIFIER_CONFIG": str(config_file)})
        cfg = FrontConfig.for_verifier(verifier_cfg, out.resolve(), **options)
        if site_dir:
            cfg = dataclasses.replace(cfg, site_dir=site_dir.resolve())
    else:
        cfg = FrontConfig(
            run_dir=out.resolve(),
            site_dir=site_dir.resolve() if site_dir else None,
            max_upload_bytes=max_upload_bytes,
            **options,  # type: ignore[arg-type]
        )
    click.echo(write_front(cfg, main=False))


def _default_run_dir(port: int) -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / f"certseal-verifier-{port}"
    return Path.home() / ".local" / "state" / "certseal" / f"run-{port}"


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same orderly stop as Ctrl-C
