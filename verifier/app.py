"""The verifier's web layer: ``create_app(config)``, the JSON API and the no-JavaScript form.

Uploads are read into memory only (never spooled to disk) and never logged.
"""

from __future__ import annotations

import io
import logging
import os
from importlib import resources
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Flask, Request, current_app, jsonify, render_template, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

from certseal.errors import CertsealError
from certseal.timeutil import format_time, utcnow
from verifier.config import VerifierConfig
from verifier.counter import Counter
from verifier.engine import Limits, Verifier, build_verifier
from verifier.messages import LANGS, Lang, ui
from verifier.result import Check, Reason, Verification
from verifier.status import IssuerTrust

log = logging.getLogger("certseal.verifier")
API = Blueprint("api", __name__, url_prefix="/api/v1")
PAGES = Blueprint("pages", __name__)
OPENAPI = Path(__file__).with_name("openapi.yaml")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


class InMemoryRequest(Request):
    """Keep uploads in memory: werkzeug would spool files over 500 KB to a temporary file."""

    def _get_file_stream(  # type: ignore[override]
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


def create_app(config: VerifierConfig | dict[str, Any] | None = None) -> Flask:
    """Build the verifier. ``config`` is a VerifierConfig, a dict (tests) or None (environment)."""
    if config is None:
        cfg = VerifierConfig.from_env()
    elif isinstance(config, dict):
        cfg = VerifierConfig.from_dict(config)
    else:
        cfg = config
    app = Flask(__name__, static_folder=None)
    app.request_class = InMemoryRequest
    # Room for the multipart envelope around a file of the maximum size; the file's own size
    # is checked by the pipeline, which answers too_large with the full JSON body.
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_upload_bytes + 64 * 1024
    app.config["MAX_FORM_MEMORY_SIZE"] = cfg.max_upload_bytes + 64 * 1024
    app.config["CERTSEAL"] = cfg
    counter = Counter(cfg.counts_db)
    issuers = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source, i.pin)
        for i in cfg.issuers
    ]
    app.extensions["certseal.verifier"] = build_verifier(
        issuers,
        counter,
        Limits(max_bytes=cfg.max_upload_bytes, time_limit=cfg.time_limit_seconds),
        refresh_seconds=cfg.refresh_seconds,
    )
    app.register_blueprint(API)
    app.register_blueprint(PAGES)
    if cfg.site_dir is not None:
        _serve_site(app, cfg.site_dir)
    if os.environ.get("CERTSEAL_BENCH_ENDPOINTS") == "1":
        # The benchmark's ceiling: read the upload, answer a fixed JSON (bench/verification.py).
        app.add_url_rule("/bench/read-only", "bench_read_only", _read_only, methods=["POST"])
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_security_headers)
    return app


def _verifier() -> Verifier:
    v: Verifier = current_app.extensions["certseal.verifier"]
    return v


def choose_lang(*, read_form: bool = True) -> Lang:
    """The ``lang`` field (form or query), else the browser's Accept-Language."""
    asked = request.args.get("lang")
    if asked is None and read_form and request.method == "POST":
        asked = request.form.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    best = request.accept_languages.best_match(["zh-TW", "zh", "en"], default="en")
    return "zh-TW" if best.startswith("zh") else "en"


def _upload() -> bytes | None:
    files = request.files.getlist("file")
    if len(files) != 1:
        return None
    data: bytes = files[0].stream.read()
    return data


def _bad_request(lang: Lang, status: int = 400) -> tuple[FlaskResponse, int]:
    result = Verification(
        (Check("upload", "failed", "bad_upload"),), (Reason("bad_request"),), http_status=status
    )
    return jsonify(result.to_dict(lang)), status


@API.post("/verify")
def api_verify() -> tuple[FlaskResponse, int]:
    lang = choose_lang()
    data = _upload()
    if data is None:
        return _bad_request(lang)
    result = _verifier().verify(data, utcnow())
    return jsonify(result.to_dict(lang)), result.http_status


@API.get("/status")
def api_status() -> FlaskResponse:
    now = utcnow()
    lists = _verifier().status(now)
    return jsonify(
        {
            "time": format_time(now),
            "ok": all(s["loaded"] and not s["last_error"] for s in lists),
            "status_lists": lists,
        }
    )


@API.get("/openapi.yaml")
def openapi() -> FlaskResponse:
    return FlaskResponse(OPENAPI.read_bytes(), mimetype="application/yaml")


@PAGES.get("/verifier.css")
def verifier_css() -> FlaskResponse:
    return FlaskResponse(
        resources.files("certseal").joinpath("static", "certseal.css").read_bytes(),
        mimetype="text/css",
    )


@PAGES.get("/healthz")
def healthz() -> FlaskResponse:
    return jsonify({"ok": True})


@PAGES.get("/verify")
def verify_form() -> str:
    lang = choose_lang()
    return render_template("verify/form.html", lang=lang, t=ui(lang))


@PAGES.post("/verify")
def verify_page() -> tuple[str, int]:
    lang = choose_lang()
    data = _upload()
    if data is None:
        return render_template("verify/form.html", lang=lang, t=ui(lang), missing=True), 400
    result = _verifier().verify(data, utcnow())
    return _render_result(result, lang), result.http_status


def _render_result(result: Verification, lang: Lang) -> str:
    return render_template(
        "verify/result.html",
        lang=lang,
        t=ui(lang),
        r=result.to_dict(lang),
        verdict=result.result,
        other_lang="en" if lang == "zh-TW" else "zh-TW",
    )


def _read_only() -> FlaskResponse:
    data = _upload()
    return jsonify({"result": "success", "size": len(data or b"")})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_error(e: HTTPException) -> Any:
    # Never parse the body here: it may be the very thing that was refused.
    lang = choose_lang(read_form=False)
    if isinstance(e, RequestEntityTooLarge):
        cfg: VerifierConfig = current_app.config["CERTSEAL"]
        limit_mb = cfg.max_upload_bytes // (1024 * 1024)
        result = Verification(
            (Check("size", "failed", "size_too_large", {"limit_mb": limit_mb}),),
            (Reason("too_large", {"limit_mb": limit_mb}),),
            http_status=413,
        )
        if _wants_json():
            return jsonify(result.to_dict(lang)), 413
        return _render_result(result, lang), 413
    if _wants_json() or request.method == "POST":
        body = {
            "result": "failure",
            "reasons": [{"code": "bad_request", "message": e.description or e.name}],
            "checks": [],
            "document": None,
            "verifications": None,
            "status_list": None,
        }
        return jsonify(body), e.code or 400
    return e


def _unexpected_error(e: Exception) -> Any:
    # Never a stack trace to the user; the log keeps the type, not the upload.
    log.error("unexpected error: %s", type(e).__name__, exc_info=not isinstance(e, CertsealError))
    lang = choose_lang(read_form=False)
    result = Verification(
        (Check("verifier", "failed", "internal_error"),),
        (Reason("status_unavailable"),),
        http_status=503,
    )
    if _wants_json() or (request.method == "POST" and request.path != "/verify"):
        return jsonify(result.to_dict(lang)), 503
    return _render_result(result, lang), 503


def _security_headers(resp: FlaskResponse) -> FlaskResponse:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/v1/verify") or request.path == "/verify":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _serve_site(app: Flask, site_dir: Path) -> None:
    from flask import redirect, send_from_directory

    root = site_dir.resolve()

    def site(path: str = "index.html") -> WerkzeugResponse:
        if not path.endswith("/") and (root / path).is_dir():
            # Pages link relatively: /en must become /en/ before its links resolve.
            return redirect(f"/{path}/", code=301)
        if path.endswith("/"):
            path = path + "index.html"
        resp = send_from_directory(root, path)
        if path.startswith("status/"):
            # The timestamp changes on every publish; content-addressed files never do.
            resp.headers["Cache-Control"] = (
                "no-cache"
                if path == "status/timestamp.json"
                else "public, max-age=31536000, immutable"
            )
        return resp

    app.add_url_rule("/", "site_index", site)
    app.add_url_rule("/<path:path>", "site", site)
