"""The verifier's deployment: nginx in front of gunicorn (docs/deployment.md).

A worker that reads a client's socket itself is held by a client that sends one byte a second
for as long as it likes. nginx reads each request in full, in memory, before passing it on over
a unix socket, so gunicorn only ever sees a complete request. gunicorn runs ``gthread`` workers:
a request that waits for a parse slot or its parse process holds a thread but no CPU, and there
are more threads than such requests can take, so a listed document always finds one. This module
writes nginx's configuration from ``verifier/deploy/`` and, for the demo and the tests, runs both
servers as children of one process (:class:`Served`).
"""

from __future__ import annotations

import html
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from certseal.errors import ConfigurationError
from verifier import batch, refusals
from verifier.config import VerifierConfig, cors_origins
from verifier.engine import DEFAULT_MAX_BYTES
from verifier.messages import LANGS, ui
from verifier.result import Check, Reason, Verification

# Sent with every page the verifier or the front serves.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Room for the multipart envelope around a file of the maximum size (the app allows the same).
ENVELOPE_BYTES = 64 * 1024
# nginx's own refusals, by the status that stands for each group (see verifier.conf.template).
REFUSALS = ("400", "404", "405", "413", "429", "503")
# Characters that would end or escape an nginx directive's argument.
_UNSAFE = re.compile(r"[\s;{}\"'$#\\]")
_LISTEN = re.compile(r"^(\[[0-9a-fA-F:]+\]:|[0-9A-Za-z.-]+:)?[0-9]{1,5}$")
# nginx's levels, most detailed first.
ERROR_LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
# Threads per gunicorn worker: more than the requests that can wait at once on parses (the
# service's parse slots, each waited for at most Limits.slot_wait), so a listed document always
# finds a free thread. An idle thread costs a stack; a waiting one no CPU.
THREADS = 32
# nginx keeps this many idle connections to gunicorn (per nginx worker) for this long, so a
# request costs no new connection; gunicorn keeps them longer (gunicorn_argv).
UPSTREAM_KEEPALIVE = 16
UPSTREAM_KEEPALIVE_SECONDS = 30
# The request headers the app reads (verifier/app.py, verifier/cors.py): nginx passes these
# alone to gunicorn, each once, and drops a value with a control character. gunicorn refuses a
# request with a repeated Content-Type, a control character in any header or more than 100
# headers with a page of its own (English HTML, none of the verifier's headers), all of which
# nginx lets through; the app never reads the other headers (nor a cookie, nor a forwarded
# address).
FORWARDED_HEADERS = (
    "Content-Type",
    "Accept-Language",
    "Origin",
    "Sec-Fetch-Site",
    "Sec-Fetch-Mode",
    "Sec-Fetch-Dest",
    "Access-Control-Request-Method",
)
# gunicorn's longest request line, its own maximum: nginx's (large_client_header_buffers, 8k)
# is longer than gunicorn's default 4094, so a query of 5 KB got gunicorn's own 414 page.
LIMIT_REQUEST_LINE = 8190
# A unix socket's path must fit sockaddr_un.sun_path (108 bytes with its terminator).
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class FrontConfig:
    """Where nginx listens, where gunicorn is, and how long a client may keep either waiting."""

    run_dir: Path  # nginx.conf, verifier.conf, error pages, pid, temp paths, logs, sockets
    listen: str = "127.0.0.1:8080"
    upstream_socket: Path | None = None  # default: run_dir/gunicorn.sock
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    # The batch endpoint's own limits (verifier.batch.BatchLimits): its body may be larger.
    batch_max_files: int = 100
    batch_max_bytes: int = DEFAULT_MAX_BYTES
    # Origins whose pages may read nginx's own refusals (verifier/cors.py lists the rest).
    cors_origins: tuple[str, ...] = ()
    site_dir: Path | None = None  # served by nginx directly
    server_name: str = "_"
    header_timeout: int = 10
    body_timeout: int = 10
    # Silence allowed within an upload's body, shorter than elsewhere: a client that stopped
    # sending (or sent less than its Content-Length) is dropped sooner, and frees its address's
    # upload place (docs/deployment.md, "A body shorter than its length").
    upload_body_timeout: int = 5
    send_timeout: int = 10
    conns_per_address: int = 16
    uploads_per_address: int = 4  # uploads at once from one address; more are answered busy
    worker_connections: int = 1024
    upstream_timeout: int = 35  # gunicorn's worker timeout (30 s) and some
    access_log: Path | None = None  # default: run_dir/access.log
    error_log: Path | None = None  # default: run_dir/nginx-error.log
    # nginx ends every error line about a request with "client: <address>", personal data
    # that any stranger can cause (an oversized body's 413, docs/deployment.md): below crit
    # only while a person diagnoses the front.
    error_log_level: str = "crit"

    def __post_init__(self) -> None:
        for name in ("run_dir", "upstream_socket", "site_dir", "access_log", "error_log"):
            p = getattr(self, name)
            if p is not None and (not p.is_absolute() or _UNSAFE.search(str(p))):
                raise ConfigurationError(
                    f"{name} must be an absolute path without spaces, quotes or ;{{}}$#: {p}",
                    f"{name} 須為絕對路徑，且不含空白、引號或 ;{{}}$#：{p}",
                )
        if self.error_log_level not in ERROR_LOG_LEVELS:
            raise ConfigurationError(
                f"the error log's level must be one of {', '.join(ERROR_LOG_LEVELS)}, "
                f"not {self.error_log_level!r}",
                f"錯誤記錄的層級須為 {', '.join(ERROR_LOG_LEVELS)} 之一，"
                f"而非 {self.error_log_level!r}",
            )
        if not _LISTEN.match(self.listen):
            raise ConfigurationError(
                f"listen must be PORT or HOST:PORT, not {self.listen!r}",
                f"listen 須為 PORT 或 HOST:PORT，而非 {self.listen!r}",
            )
        if not re.fullmatch(r"[0-9A-Za-z._*-]+", self.server_name):
            raise ConfigurationError(
                f"not a server name: {self.server_name!r}",
                f"無效的伺服器名稱：{self.server_name!r}",
            )
        if len(str(self.socket).encode()) > _MAX_SOCKET_PATH:
            raise ConfigurationError(
                f"the socket path is too long for a unix socket: {self.socket}",
                f"unix socket 路徑過長：{self.socket}",
            )
        object.__setattr__(self, "cors_origins", cors_origins(self.cors_origins))
        numbers = (
            self.max_upload_bytes,
            self.batch_max_files,
            self.batch_max_bytes,
            self.header_timeout,
            self.body_timeout,
            self.upload_body_timeout,
            self.send_timeout,
            self.conns_per_address,
            self.uploads_per_address,
            self.worker_connections,
            self.upstream_timeout,
        )
        if any(type(n) is not int or n < 1 for n in numbers):
            raise ConfigurationError(
                "sizes, timeouts and connection limits must be whole numbers ≥ 1",
                "大小、逾時與連線上限須為 ≥ 1 的整數",
            )

    @classmethod
    def for_verifier(cls, verifier: VerifierConfig, run_dir: Path, **options: Any) -> FrontConfig:
        """The front of this verifier: its upload and batch limits and its listed origins come
        from the verifier's own settings, so nginx and the app cannot disagree."""
        return cls(
            run_dir=run_dir,
            max_upload_bytes=verifier.max_upload_bytes,
            batch_max_files=verifier.batch_max_files,
            batch_max_bytes=verifier.batch_max_bytes,
            cors_origins=verifier.cors_origins,
            site_dir=verifier.site_dir.resolve() if verifier.site_dir else None,
            **options,
        )

    @property
    def batch_limits(self) -> batch.BatchLimits:
        return batch.BatchLimits(
            max_files=self.batch_max_files, max_total_bytes=self.batch_max_bytes
        )

    @property
    def socket(self) -> Path:
        return self.upstream_socket or self.run_dir / "gunicorn.sock"

    @property
    def errors_dir(self) -> Path:
        return self.run_dir / "errors"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[-1])

    @property
    def host(self) -> str:
        host = self.listen.rsplit(":", 1)[0] if ":" in self.listen else "0.0.0.0"  # noqa: S104
        return host.strip("[]")

    @property
    def error_log_path(self) -> Path:
        return self.error_log or self.run_dir / "nginx-error.log"

    def verifier_conf(self) -> str:
        """The ``http``-level configuration: for the system's nginx, or included by ours."""
        headers = "\n".join(
            f'        add_header {k} "{v}" always;' for k, v in SECURITY_HEADERS.items()
        )
        proxy = _template("proxy.conf.template").rstrip("\n")
        access = self.access_log or self.run_dir / "access.log"
        return _fill(
            _template("verifier.conf.template"),
            {
                "LISTEN": self.listen,
                "SERVER_NAME": self.server_name,
                "UPSTREAM_SOCKET": str(self.socket),
                "UPSTREAM_KEEPALIVE": str(UPSTREAM_KEEPALIVE),
                "UPSTREAM_KEEPALIVE_SECONDS": str(UPSTREAM_KEEPALIVE_SECONDS),
                "HEADER_TIMEOUT": str(self.header_timeout),
                "BODY_TIMEOUT": str(self.body_timeout),
                "UPLOAD_BODY_TIMEOUT": str(self.upload_body_timeout),
                "SEND_TIMEOUT": str(self.send_timeout),
                "MAX_BODY": str(self.max_upload_bytes + ENVELOPE_BYTES),
                # The app's own bound on a batch request (one formula, BatchLimits).
                "BATCH_MAX_BODY": str(self.batch_limits.max_request_bytes),
                "CORS_ORIGINS": self._cors_map(),
                "CONNS_PER_ADDRESS": str(self.conns_per_address),
                "UPLOADS_PER_ADDRESS": str(self.uploads_per_address),
                "ZONE_SIZE": "1m",
                "ACCESS_LOG": f"{access} certseal",
                "ERROR_LOG": f"{self.error_log_path} {self.error_log_level}",
                "ERRORS_DIR": str(self.errors_dir),
                "SECURITY_HEADERS": headers,
                "HEADER_MAPS": _header_maps(),
                "PROXY": _fill(
                    proxy,
                    {
                        "UPSTREAM_TIMEOUT": str(self.upstream_timeout),
                        "FORWARDED_HEADERS": "\n".join(
                            f"    proxy_set_header {h} ${_header_var(h)};"
                            for h in FORWARDED_HEADERS
                        ),
                    },
                ),
                "SITE": self._site(headers),
            },
        )

    def main_conf(self, *, user: str | None = None) -> str:
        """nginx's own main file, for running it as a child process with every path in run_dir.

        ``user``: only when started as root, the account the workers run as."""
        return _fill(
            _template("nginx.conf.template"),
            {
                "RUN_DIR": str(self.run_dir),
                "ERROR_LOG": str(self.error_log_path),
                "USER": f"user {user};" if user else "",
                "WORKER_CONNECTIONS": str(self.worker_connections),
            },
        )

    def _cors_map(self) -> str:
        """nginx's ``map`` entries: the page's origin where it is listed, else nothing."""
        if self.cors_origins == ("*",):
            return '    default "*";'
        lines = ['    default "";']
        lines += [f'    "{o}" $http_origin;' for o in self.cors_origins]
        return "\n".join(lines)

    def _site(self, headers: str) -> str:
        if self.site_dir is None:
            return "    location / {\n        proxy_pass http://certseal_verifier;\n    }"
        return _fill(
            _template("site.conf.template").rstrip("\n"),
            {"SITE_DIR": str(self.site_dir), "SECURITY_HEADERS": headers},
        )


def _header_var(header: str) -> str:
    return "certseal_h_" + header.lower().replace("-", "_")


def _header_maps() -> str:
    """nginx ``map`` blocks: each forwarded header's value, or nothing (the header is then not
    sent) when it holds a control character (NUL, CR and LF nginx refuses itself)."""
    blocks = []
    for h in FORWARDED_HEADERS:
        source = "$http_" + h.lower().replace("-", "_")
        blocks.append(
            f"map {source} ${_header_var(h)} {{\n"
            f'    "~[\\x01-\\x08\\x0b-\\x1f\\x7f]" "";\n'
            f"    default {source};\n}}"
        )
    return "\n".join(blocks)


def error_pages(
    max_upload_bytes: int, batch_max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, bytes]:
    """nginx's refusals in the verifier's words: ``{lang}/{status}.json`` and ``.html``, and
    the batch endpoint's 413 as the app writes it (``{lang}/413-batch.json``)."""
    out: dict[str, bytes] = {}
    results = {
        "400": refusals.bad_request(),
        "404": refusals.not_found(),
        "405": refusals.method_not_allowed(),
        "413": refusals.too_large(max_upload_bytes),
        "429": busy_uploads(),
        "503": refusals.unavailable(),
    }
    for lang in LANGS:
        for status, result in results.items():
            body = result.to_dict(lang)
            out[f"{lang}/{status}.json"] = json.dumps(body, ensure_ascii=False).encode()
            out[f"{lang}/{status}.html"] = _error_html(result, lang)
        too_large = batch.too_large(batch_max_bytes).to_dict(lang)
        out[f"{lang}/413-batch.json"] = json.dumps(too_large, ensure_ascii=False).encode()
    return out


def busy_uploads() -> Verification:
    """More uploads at once from one address than the front lets through: the file was not
    read, as when every parse slot stays taken; try again."""
    return Verification(
        (Check("pdf_structure", "skipped", "parse_busy"),), (Reason("busy"),), http_status=429
    )


def _error_html(result: Verification, lang: str) -> bytes:
    t = ui(lang)  # type: ignore[arg-type]
    message = html.escape(result.to_dict(lang)["reasons"][0]["message"])  # type: ignore[arg-type]
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(t['verdict_failure'])}</title>"
        '<link rel="stylesheet" href="/verifier.css"></head>\n'
        f"<body><main><h1>{html.escape(t['verdict_failure'])}</h1><p>{message}</p>"
        f'<p><a href="/verify?lang={lang}">{html.escape(t["verify_another"])}</a></p>'
        "</main></body></html>\n"
    ).encode()


def write_front(cfg: FrontConfig, *, main: bool = True) -> Path:
    """Write verifier.conf, the error pages and (``main``) nginx.conf into ``cfg.run_dir``.

    Returns the file to give nginx: nginx.conf, or verifier.conf for the system's nginx."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for rel, data in error_pages(cfg.max_upload_bytes, cfg.batch_max_bytes).items():
        p = cfg.errors_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (cfg.run_dir / "verifier.conf").write_text(cfg.verifier_conf(), "utf-8")
    if not main:
        return cfg.run_dir / "verifier.conf"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (cfg.run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    # nginx started by root would hand its workers to "nobody", who cannot read the run folder.
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
    (cfg.run_dir / "nginx.conf").write_text(cfg.main_conf(user=user), "utf-8")
    return cfg.run_dir / "nginx.conf"


def gunicorn_argv(
    gunicorn: str,
    bind: str,
    *,
    control_socket: Path,
    workers: int = 2,
    threads: int = THREADS,
    timeout: int = 30,
    keep_alive: int = UPSTREAM_KEEPALIVE_SECONDS + 60,
    access_log: bool = True,
) -> list[str]:
    """gunicorn's command line: ``workers`` processes of ``threads`` threads each (gthread).

    A thread that waits (for a parse slot, for its parse process) costs no CPU, so a request
    waiting on a hostile file's parse never keeps a genuine one from a thread. gunicorn keeps an
    idle connection open longer than nginx does (``keep_alive``), so nginx never sends a request
    down a connection gunicorn is closing. Each instance keeps its own control socket (gunicorn
    ≥ 25.1 otherwise shares ``~/.gunicorn/gunicorn.ctl`` between every instance of a user)."""
    args = [
        gunicorn,
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--keep-alive",
        str(keep_alive),
        "--control-socket",
        str(control_socket),
        "--limit-request-line",
        str(LIMIT_REQUEST_LINE),
    ]
    if access_log:
        # No client address: it is personal data, and behind the front always 127.0.0.1.
        args += ["--access-logfile", "-", "--access-logformat", '"%(r)s" %(s)s %(b)s %(M)sms']
    return [*args, "verifier.app:create_app()"]


def find_program(name: str, near: Path | None = None) -> str | None:
    """A program beside ``near`` (the virtualenv's bin), else on PATH, else in /usr/sbin."""
    for folder in ([str(near)] if near else []) + [os.environ.get("PATH", ""), "/usr/sbin:/sbin"]:
        for d in folder.split(os.pathsep):
            p = Path(d) / name
            if d and p.is_file() and os.access(p, os.X_OK):
                return str(p)
    return None


class Served:
    """nginx and gunicorn running as children of this process, until :meth:`stop`."""

    def __init__(
        self,
        cfg: FrontConfig,
        *,
        nginx: str,
        gunicorn: str,
        env: Mapping[str, str],
        workers: int = 2,
        threads: int = THREADS,
        worker_timeout: int = 30,
        output: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.control_socket = cfg.run_dir / "gunicorn.ctl"
        conf = write_front(cfg)
        for stale in (cfg.socket, self.control_socket):
            stale.unlink(missing_ok=True)
        self.gunicorn = subprocess.Popen(
            gunicorn_argv(
                gunicorn,
                f"unix:{cfg.socket}",
                control_socket=self.control_socket,
                workers=workers,
                threads=threads,
                timeout=worker_timeout,
                access_log=False,  # nginx writes the access log
            ),
            env=dict(env),
            stdout=output,
            stderr=output,
            start_new_session=True,  # Ctrl-C goes to us; we stop the children in order
        )
        self.nginx: subprocess.Popen[bytes] | None = None
        try:
            _wait_for(
                lambda: self.control_socket.exists() and _connects(socket.AF_UNIX, str(cfg.socket)),
                self.gunicorn,
                "gunicorn",
            )
            self.nginx = subprocess.Popen(
                [
                    nginx,
                    "-p",
                    str(cfg.run_dir),
                    "-e",
                    str(cfg.run_dir / "nginx-error.log"),
                    "-c",
                    str(conf),
                ],
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
            host = "127.0.0.1" if cfg.host in ("0.0.0.0", "") else cfg.host  # noqa: S104
            _wait_for(lambda: _connects(socket.AF_INET, (host, cfg.port)), self.nginx, "nginx")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://{self.cfg.host}:{self.cfg.port}"

    def wait(self) -> int:
        """Until either server exits; then stop the other. Returns the first exit code."""
        while True:
            for p in (self.gunicorn, self.nginx):
                if p is not None and p.poll() is not None:
                    code = p.returncode
                    self.stop()
                    return code
            time.sleep(0.2)

    def stop(self) -> None:
        """nginx first (no new requests), then gunicorn (finishes the ones it has)."""
        for p, sig in ((self.nginx, signal.SIGQUIT), (self.gunicorn, signal.SIGTERM)):
            if p is None or p.poll() is not None:
                continue
            p.send_signal(sig)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _connects(family: int, address: str | tuple[str, int]) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(address)
        except OSError:
            return False
        return True


def _wait_for(ready: Callable[[], bool], proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigurationError(
                f"{name} stopped at start (exit {proc.returncode}); see its messages above",
                f"{name} 啟動時即停止（結束碼 {proc.returncode}），請見上方訊息",
            )
        if ready():
            return
        time.sleep(0.05)
    raise ConfigurationError(f"{name} did not start within 30 s", f"{name} 未在 30 秒內啟動")


def _template(name: str) -> str:
    return resources.files("verifier").joinpath("deploy", name).read_text("utf-8")


def _fill(template: str, values: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        return values[m.group(1)]

    return _PLACEHOLDER.sub(one, template)
