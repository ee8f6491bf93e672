"""Running shared test vectors in a real chromium: one small page, the scripts under test, and
the vectors' files, served on 127.0.0.1. Both readers' vector tests (the status list and the
trust list) use it, so they run the browser the same way."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from tests.site.conftest import chromium


def _app(
    harness: bytes, scripts: Mapping[str, Path], vectors: Path
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The harness page, the scripts, and the vectors' files (nothing outside them)."""
        path = environ["PATH_INFO"]
        body: bytes | None = None
        kind = "application/json"
        if path == "/":
            body, kind = harness, "text/html; charset=utf-8"
        elif path[1:] in scripts:
            body, kind = scripts[path[1:]].read_bytes(), "text/javascript"
        elif path.startswith("/vectors/"):
            target = (vectors / path.removeprefix("/vectors/")).resolve()
            if vectors in target.parents and target.is_file():
                body = target.read_bytes()
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return serve


@contextmanager
def harness_server(harness: bytes, scripts: Mapping[str, Path], vectors: Path) -> Iterator[str]:
    """Serve the page at ``/``, each script at ``/<name>``, the vectors under ``/vectors/``."""
    srv = make_server("127.0.0.1", 0, _app(harness, scripts, vectors), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}/"
    finally:
        srv.shutdown()
        thread.join()
        srv.server_close()


@contextmanager
def harness_page(url: str) -> Iterator[Any]:
    """The harness page open in Debian's chromium; fails if the page logged an error."""
    with chromium() as browser:
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        yield pg
    assert not errors, f"the page logged errors: {errors}"
