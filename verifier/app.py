"""The verifier's web layer: ``create_app(config)``, the JSON API and the no-JavaScript form.

Uploads are read into memory only (never spooled to disk) and never logged. In production it runs
under gunicorn behind nginx (``verifier.front``, docs/deployment.md), which hands it complete
requests only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Request,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from flask import Response as FlaskResponse
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.formparser import FormDataParser
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as WerkzeugResponse

from certseal.errors import CertsealError, StoreUnavailableError
from certseal.timeutil import format_time, utcnow
from verifier import batch, cors, refusals
from verifier.config import VerifierConfig
from verifier.engine import Limits, Verifier, build_verifier
from verifier.front import ENVELOPE_BYTES, SECURITY_HEADERS
from verifier.loglines import BatchedLines, OneLineFormatter
from verifier.messages import LANGS, Lang, ui
from verifier.receipt import ReceiptSigner
from verifier.result import Verification, dumps, page_view
from verifier.status import IssuerTrust
from verifier.store import open_store

log = logging.getLogger("certseal.verifier")
API = Blueprint("api", __name__, url_prefix="/api/v1")
PAGES = Blueprint("pages", __name__)
OPENAPI = Path(__file__).with_name("openapi.yaml")
# A file sent as the whole body, without a multipart envelope (cheaper for both sides).
RAW_TYPES = ("application/pdf", "application/octet-stream")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Libraries whose warnings repeat what the verification's own line says, with data from the
# upload (a certificate subject) and a traceback: only their errors are logged.
QUIET_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "fontTools", "asyncio")
T = TypeVar("T")
# The pages' language unless one is chosen: the site's rule (Chinese at /, English under /en/).
PAGE_LANG: Lang = "zh-TW"
# Set in the WSGI environ once the body has been read to its end (a raw file's one read, a
# form parsed).
BODY_READ = "certseal.body_read"
DRAIN_CHUNK = 64 * 1024


class FormUnreadable(BadRequest):
    """A multipart form werkzeug could not read (it would drop the whole form silently)."""


class TellingFormParser(FormDataParser):
    """werkzeug's parser, but a form it cannot read (broken parts, a file name not in UTF-8)
    raises :class:`FormUnreadable` rather than becoming an empty form, which was answered
    "upload one file in the field 'file'" to a person who did."""

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        self.silent = False
        counted = _CountedReads(stream)
        try:
            _, form, files = super().parse(counted, mimetype, content_length, options)  # type: ignore[arg-type]
            # The request keeps its own stream, not the counting reader.
            return stream, form, files
        except ValueError as e:
            if counted.ended and content_length is not None and counted.total < content_length:
                # The body stopped before its length (gunicorn alone hands over what came):
                # the request is broken, not the form.
                raise BadRequest() from e
            raise FormUnreadable() from e


class _CountedReads:
    """A body stream that counts what was read from it, and whether it ended (werkzeug's
    parser only calls read)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.total = 0
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.total += len(data)
        self.ended = self.ended or not data
        return data


class InMemoryRequest(Request):
    """Keep uploads in memory: werkzeug would spool files over 500 KB to a temporary file."""

    form_data_parser_class = TellingFormParser

    def _get_file_stream(  # type: ignore[override]
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


def create_app(
    config: VerifierConfig | dict[str, Any] | None = None,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Flask:
    """Build the verifier. ``config`` is a VerifierConfig, a dict (tests) or None (environment);
    ``clock`` gives each request's time (tests move it)."""
    if config is None:
        cfg = VerifierConfig.from_env()
    elif isinstance(config, dict):
        cfg = VerifierConfig.from_dict(config)
    else:
        cfg = config
    configure_logging()
    app = Flask(__name__, static_folder=None)
    app.request_class = InMemoryRequest
    # An address with "//" is no address (404), not a 308 to an absolute address built from the
    # request's Host, which a client chooses.
    app.url_map.merge_slashes = False
    # Room for the multipart envelope around a file of the maximum size; the file's own size
    # is checked by the pipeline, which answers too_large with the full JSON body.
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_upload_bytes + ENVELOPE_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = cfg.max_upload_bytes + ENVELOPE_BYTES
    app.config["CERTSEAL"] = cfg
    app.config["CERTSEAL_CLOCK"] = clock
    # A database down while a worker boots is logged and answered 503, not a failed boot:
    # gunicorn stops the whole service when a worker fails to boot.
    counter = open_store(
        cfg.store_location, pool_size=cfg.postgres_pool_size, start_unreachable=True
    )
    issuers = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source, i.pin)
        for i in cfg.issuers
    ]
    app.extensions["certseal.verifier"] = build_verifier(
        issuers,
        counter,
        Limits(max_bytes=cfg.max_upload_bytes, time_limit=cfg.time_limit_seconds),
        refresh_seconds=cfg.refresh_seconds,
        federation=None if cfg.federation is None else cfg.federation.pin(),
        timestamp_roots=cfg.timestamp_root_certs(),
    )
    if cfg.receipt_key is not None and cfg.receipt_cert is not None:
        signer = ReceiptSigner.load(cfg.receipt_key, cfg.receipt_cert, cfg.receipt_name)
        app.extensions["certseal.receipts"] = signer
    app.register_blueprint(API)
    app.register_blueprint(PAGES)
    if cfg.site_dir is not None:
        _serve_site(app, cfg.site_dir)
    if os.environ.get("CERTSEAL_BENCH_ENDPOINTS") == "1":
        # The benchmark's ceiling: read the upload, answer a fixed JSON (bench/verification.py).
        app.add_url_rule("/bench/read-only", "bench_read_only", _read_only, methods=["POST"])
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.extensions["certseal.cors"] = cors.CorsPolicy(cfg.cors_origins)
    app.before_request(_cross_origin)
    app.after_request(_security_headers)
    app.after_request(_drain_body)
    return app


def _now() -> dt.datetime:
    clock: Callable[[], dt.datetime] = current_app.config["CERTSEAL_CLOCK"]
    return clock()


def _verifier() -> Verifier:
    v: Verifier = current_app.extensions["certseal.verifier"]
    return v


def choose_lang(*, read_form: bool = True, default: Lang | None = None) -> Lang:
    """The ``lang`` field (form or query), else ``default``, else the browser's
    Accept-Language. The pages pass the site's rule, Traditional Chinese unless English was
    chosen (``PAGE_LANG``); the API negotiates."""
    # Parsed only when sent: an API client usually sends neither, and parsing both cost a
    # tenth of a listed document's answer.
    env = request.environ
    asked = request.args.get("lang") if env.get("QUERY_STRING") else None
    if asked is None and read_form and _may_have_form(env):
        asked = _read(lambda: request.form.get("lang"))
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    if default is not None:
        return default
    if not env.get("HTTP_ACCEPT_LANGUAGE"):
        return "en"
    best = request.accept_languages.best_match(["zh-TW", "zh", "en"], default="en")
    return "zh-TW" if best.startswith("zh") else "en"


def _may_have_form(env: dict[str, Any]) -> bool:
    """Whether the request is a POST of a form. A raw file's exact type (what API clients send)
    settles it without werkzeug parsing the header at each look (``request.mimetype``)."""
    if env.get("CONTENT_TYPE") in RAW_TYPES:
        return False
    return request.method == "POST" and request.mimetype in FORM_TYPES


def _upload() -> bytes | None:
    """The file: the whole body (``application/pdf``), or the one multipart field ``file``."""
    if request.mimetype in RAW_TYPES:
        data = _read(lambda: request.get_data(cache=False))
        if request.content_length is not None and len(data) != request.content_length:
            # gunicorn hands over what came before the client stopped: not the whole file.
            raise BadRequest()
        request.environ[BODY_READ] = True
        return data

    def one_file() -> bytes | None:
        files = _files()
        return files[0].stream.read() if len(files) == 1 else None

    return _read(one_file)


def _files() -> list[FileStorage]:
    """The ``file`` fields of the form. werkzeug's parser reads a form to the end of the body
    (a multipart epilogue too), so nothing is left for ``_drain_body`` to read; a body of
    another type is not parsed at all, and is left to it."""
    files = request.files.getlist("file")
    if request.mimetype in FORM_TYPES:
        request.environ[BODY_READ] = True
    return files


def _read(read: Callable[[], T]) -> T:
    """Read the request body; a failure to read it is the client's bad request.

    The body is the client's side of the exchange: shorter than its Content-Length, a broken
    chunked encoding, a dropped connection. Whatever the server underneath raises for these
    (gunicorn has its own exception types), the answer is 400 ``bad_request``, never the 503
    of an internal error."""
    try:
        return read()
    except HTTPException:
        raise
    except Exception as e:
        raise BadRequest() from e


def _bad_request(lang: Lang) -> tuple[FlaskResponse, int]:
    return jsonify(refusals.bad_request().to_dict(lang)), 400


@API.post("/verify")
def api_verify() -> tuple[FlaskResponse, int]:
    lang = choose_lang()
    wanted, signer = _receipts()
    if wanted and signer is None:
        return jsonify(batch.receipt_unavailable().to_dict(lang)), 400
    data = _upload()
    if data is None:
        return _bad_request(lang)
    now = _now()
    result = _verifier().verify(data, now)
    zone = current_app.config["CERTSEAL"].time_zone
    if signer is None:
        return _json_answer(result.to_json(lang, zone)), result.http_status
    body = result.to_dict(lang, zone)
    name = request.files["file"].filename if "file" in request.files else None
    body["receipt"] = signer.sign_json([batch.item(name, data, result)], now)
    return _json_answer(dumps(body)), result.http_status


def _json_answer(text: str) -> FlaskResponse:
    """``jsonify``'s answer, byte for byte, for JSON already rendered (``Verification.to_json``
    renders an answer from parts rendered once: most of it is the same at every upload)."""
    return FlaskResponse(text + "\n", mimetype="application/json")


@API.post("/verify/batch")
def api_verify_batch() -> tuple[FlaskResponse, int]:
    """Many files, or ZIP files of them: each verified as a single upload (verifier/batch.py)."""
    cfg: VerifierConfig = current_app.config["CERTSEAL"]
    limits = batch.BatchLimits(max_files=cfg.batch_max_files, max_total_bytes=cfg.batch_max_bytes)
    request.max_content_length = request.max_form_memory_size = limits.max_request_bytes
    lang, (wanted, signer), now = choose_lang(), _receipts(), _now()
    if wanted and signer is None:
        return jsonify(batch.receipt_unavailable().to_dict(lang)), 400
    files = _read(_files)
    uploads = [batch.Upload.of(f.filename, _read(f.stream.read)) for f in files]
    result = batch.run(_verifier(), uploads, now, limits, cfg.max_upload_bytes)
    body = result.to_dict(lang)
    if signer is not None and result.refusal is None:
        body["receipt"] = signer.sign_json(result.items, now)
    return jsonify(body), result.http_status


@API.get("/receipt-certificate")
def receipt_certificate() -> FlaskResponse:
    signer: ReceiptSigner | None = current_app.extensions.get("certseal.receipts")
    if signer is None:
        raise NotFound()
    return FlaskResponse(signer.certificate_pem(), mimetype="application/x-pem-file")


def _receipts() -> tuple[bool, ReceiptSigner | None]:
    """Whether ``receipt=1`` asks for a receipt, and the signer if one is configured."""
    env = request.environ
    asked = request.args.get("receipt") if env.get("QUERY_STRING") else None
    if asked is None and _may_have_form(env):
        asked = _read(lambda: request.form.get("receipt"))
    if asked not in ("1", "true", "yes"):
        return False, None
    return True, current_app.extensions.get("certseal.receipts")


@API.get("/status")
def api_status() -> FlaskResponse | tuple[FlaskResponse, int]:
    now = _now()
    try:
        lists = [_public_status(s) for s in _verifier().status(now)]
    except StoreUnavailableError as e:
        # The shared store is down: every answer is 503 status_unavailable until it is back,
        # and a monitor reading this address is told so, in its own shape.
        lang = choose_lang(read_form=False)
        return jsonify(
            {
                "time": format_time(now),
                "ok": False,
                "status_lists": [],
                "store_error": e.message(lang),
            }
        ), 503
    return jsonify(
        {
            "time": format_time(now),
            # A stale list still answers (with status_stale), but the service is not as it
            # should be: the issuer's publication or our fetching of it needs a person.
            "ok": all(s["loaded"] and not s["last_error"] and not s["stale"] for s in lists),
            "status_lists": lists,
        }
    )


def _public_status(status: dict[str, object]) -> dict[str, object]:
    """A status list's state without the server's own paths: a URL source is public, a folder
    on the server's disk is not."""
    out = dict(status)
    source = str(status["source"])
    if "://" in source:
        return out
    out["source"] = None
    error = status.get("last_error")
    if isinstance(error, str):
        for path in sorted({str(Path(source).resolve()), source}, key=len, reverse=True):
            error = error.replace(path, "<source>")
        out["last_error"] = error
    return out


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
    lang = choose_lang(default=PAGE_LANG)
    return render_template("verify/form.html", lang=lang, t=ui(lang))


@PAGES.post("/verify")
def verify_page() -> tuple[str, int]:
    lang = choose_lang(default=PAGE_LANG)
    data = _upload()
    if data is None:
        return render_template("verify/form.html", lang=lang, t=ui(lang), missing=True), 400
    result = _verifier().verify(data, _now())
    return _render_result(result, lang), result.http_status


def _render_result(result: Verification, lang: Lang) -> str:
    zone = current_app.config["CERTSEAL"].time_zone
    return render_template(
        "verify/result.html", lang=lang, t=ui(lang), page=page_view(result, lang, zone)
    )


@PAGES.app_context_processor
def _school_names() -> dict[str, Any]:
    """The school the pages name, as the site names it: the one issuer's names from its status
    list; none nationally (the pages name the federation) or with several issuers."""
    names = None
    verifier = _verifier()
    if verifier.federation is None and len(verifier.sources) == 1:
        try:
            state = verifier.sources[0].current(_now())
        except CertsealError:
            state = None
        if state is not None:
            issuer = state.snapshot.issuer
            names = {"zh-TW": issuer.name_zh, "en": issuer.name_en}
    return {"school_names": names}


def _read_only() -> FlaskResponse:
    data = _upload()
    return jsonify({"result": "success", "size": len(data or b"")})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_error(e: HTTPException) -> Any:
    # Never parse the body here: it may be the very thing that was refused.
    lang = choose_lang(read_form=False)
    if isinstance(e, RequestEntityTooLarge) and not _over_length():
        # werkzeug's bound on a form's parts (``max_form_parts``), not on a size: a form of
        # too many fields (a batch: of too many files), not a file too large.
        if request.path == "/api/v1/verify/batch":
            max_files = current_app.config["CERTSEAL"].batch_max_files
            refused = batch.too_many_parts(request.max_form_parts or 0, max_files)
            return jsonify(refused.to_dict(lang)), 400
        e = BadRequest()
    if isinstance(e, RequestEntityTooLarge):
        cfg: VerifierConfig = current_app.config["CERTSEAL"]
        result = refusals.too_large(cfg.max_upload_bytes)
        if request.path == "/api/v1/verify/batch":
            return jsonify(batch.too_large(cfg.batch_max_bytes).to_dict(lang)), 413
        if _wants_json():
            return jsonify(result.to_dict(lang)), 413
        return _render_result(result, choose_lang(read_form=False, default=PAGE_LANG)), 413
    status = e.code or 400
    if isinstance(e, FormUnreadable):
        result = refusals.form_unreadable()
    elif isinstance(e, NotFound):
        result = refusals.not_found()
    elif isinstance(e, MethodNotAllowed):
        result = refusals.method_not_allowed()
    else:
        result = refusals.bad_request()
    if _wants_json() or (request.method == "POST" and request.path != "/verify"):
        resp = jsonify(result.to_dict(lang))
    else:
        page = _render_result(result, choose_lang(read_form=False, default=PAGE_LANG))
        resp = FlaskResponse(page, mimetype="text/html")
    # What werkzeug says with the error: the methods an address takes (Allow), a redirect's
    # target; never its own page.
    for name, value in e.get_headers():
        if name.lower() != "content-type":
            resp.headers[name] = value
    return resp, status


def _over_length() -> bool:
    """Whether the body is (or, without a length, may be) over the request's size limit."""
    length, limit = request.content_length, request.max_content_length
    return length is None or limit is None or length > limit


def _unexpected_error(e: Exception) -> Any:
    # Never a stack trace to the user; the log keeps the type and where, not the upload.
    log.error("unexpected error: %s", type(e).__name__, exc_info=not isinstance(e, CertsealError))
    lang = choose_lang(read_form=False)
    result = refusals.unavailable()
    if _wants_json() or (request.method == "POST" and request.path != "/verify"):
        return jsonify(result.to_dict(lang)), 503
    return _render_result(result, choose_lang(read_form=False, default=PAGE_LANG)), 503


def _cross_origin() -> Any:
    """A preflight's answer, or the refusal of a file sent from a page of a site not listed
    (verifier/cors.py): before the body is read, so nothing is counted."""
    env = request.environ
    origin = env.get("HTTP_ORIGIN")
    if origin is None:
        return None
    policy: cors.CorsPolicy = current_app.extensions["certseal.cors"]
    path, method = request.path, request.method
    if method == "OPTIONS" and path in cors.UPLOADS and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in env:
        headers = policy.preflight(path, origin)
        return (
            _refuse_origin(origin)
            if headers is None
            else FlaskResponse(status=204, headers=headers)
        )
    if method == "POST" and policy.refuses_upload(path, env):
        return _refuse_origin(origin)
    return None


def _refuse_origin(origin: str) -> tuple[Any, int]:
    result = cors.origin_not_allowed(origin)
    lang = choose_lang(read_form=False)
    if request.path == "/verify":
        return _render_result(result, choose_lang(read_form=False, default=PAGE_LANG)), 403
    if request.path == "/api/v1/verify/batch":
        return jsonify(batch.BatchResult((), result).to_dict(lang)), 403
    return jsonify(result.to_dict(lang)), 403


def _security_headers(resp: FlaskResponse) -> FlaskResponse:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    policy: cors.CorsPolicy = current_app.extensions["certseal.cors"]
    for name, value in policy.headers(request.path, request.environ.get("HTTP_ORIGIN")):
        if name == "Vary" and "Vary" in resp.headers:
            resp.vary.add(value)
        else:
            resp.headers[name] = value
    if request.path.startswith("/api/v1/verify") or request.path == "/verify":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _drain_body(resp: FlaskResponse) -> FlaskResponse:
    """Read what the answer left of the request's body before the answer goes out.

    A refusal decided on the headers (origin, type, receipt, method, address) and a multipart
    body with bytes after its closing boundary leave a body unread. gunicorn drains 64 KB of it
    at most, then closes the connection after an answer that said keep-alive; nginx, which
    keeps its connections to gunicorn for the next request, sends another client's request
    down the closing one and (never retrying: a verification counts a use) answers it 502.
    Behind nginx the whole body is already there, at most the front's limit; a body declared
    larger than the app's limit is not read (gunicorn alone: it closes that connection)."""
    env = request.environ
    if env.get(BODY_READ) or not (env.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in env):
        return resp
    budget = request.max_content_length
    length = request.content_length
    if budget is None or (length is not None and length > budget):
        return resp
    # A body that ends badly (gunicorn raises its own types) leaves nothing more to read: the
    # answer stands, and gunicorn closes that connection.
    with contextlib.suppress(Exception):
        stream = request.stream
        while budget > 0 and (chunk := stream.read(min(DRAIN_CHUNK, budget))):
            budget -= len(chunk)
    return resp


def _serve_site(app: Flask, site_dir: Path) -> None:
    root = site_dir.resolve()

    def site(path: str = "index.html") -> WerkzeugResponse:
        target = safe_join(str(root), path)
        if target is None:
            # Outside the site: the same 404 whether or not such a folder exists on the server.
            raise NotFound()
        if not path.endswith("/") and Path(target).is_dir():
            # Pages link relatively: /en must become /en/ before its links resolve.
            return redirect(f"/{path}/", code=301)
        if path.endswith("/"):
            path = path + "index.html"
        # A file is answered whole, as the front answers it (max_ranges 0): never a 416 or a
        # multipart answer of many ranges.
        request.environ.pop("HTTP_RANGE", None)
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


def configure_logging() -> None:
    """Our records one line each on stderr, third parties' only when they are errors.

    Left alone when the operator's logging configuration (or a test harness) already set
    handlers on the root logger."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    root = logging.getLogger()
    if root.handlers:
        return
    handler = BatchedLines(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("certseal").setLevel(logging.INFO)
