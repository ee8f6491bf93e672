"""The browser's reader (site/static/statuslist.js) against the shared conformance vectors, in
a real chromium: every case gives exactly the manifest's outcome, as the Python reader does
(tests/test_vectors.py). The vectors and the script are served from 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.site.conftest import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "statuslist"
SCRIPT = ROOT / "site" / "static" / "statuslist.js"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
CASES = {c["name"]: c for c in MANIFEST["cases"]}
HARNESS = b"""<!doctype html><html lang="en"><meta charset="utf-8"><title>vectors</title>
<script src="/statuslist.js"></script></html>"""

# One case, run in the page: the same steps as tests/test_vectors.py's run().
RUN_CASE = """async ({base, keys, c}) => {
  const SL = window.CertsealStatusList;
  const kind = (e) => (e && e.kind) || ("unexpected " + e);
  const time = (v) => (v === null ? 0 : SL.parseTime(v, "time"));
  const imported = await SL.importKeys(keys);
  let state;
  try {
    state = await SL.loadTrusted(base + c.name + "/", imported, time(c.reference_time), "vectors", {
      seen: {version: c.seen.version, issuedAt: time(c.seen.issued_at)},
      pin: {minVersion: c.pin.min_version, notBefore: time(c.pin.not_before)},
      allowExpired: c.allow_expired,
    });
  } catch (e) {
    return {ok: false, error: kind(e)};
  }
  const lookups = [];
  for (const item of c.expect.lookups || []) {
    try {
      const found = await SL.lookup(state, item.sha256);
      lookups.push({sha256: item.sha256, entry: found.entry});
    } catch (e) {
      lookups.push({sha256: item.sha256, error: kind(e)});
    }
  }
  return {ok: true, version: state.version, timestamp_issued_at: state.timestamp.issued_at,
          expired: state.expired, lookups: lookups};
}"""


def _serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The harness page, the script, and the vectors' files (nothing outside them)."""
    path = environ["PATH_INFO"]
    body: bytes | None = None
    kind = "application/json"
    if path == "/":
        body, kind = HARNESS, "text/html; charset=utf-8"
    elif path == "/statuslist.js":
        body, kind = SCRIPT.read_bytes(), "text/javascript"
    elif path.startswith("/vectors/"):
        target = (VECTORS / path.removeprefix("/vectors/")).resolve()
        if VECTORS in target.parents and target.is_file():
            body = target.read_bytes()
    if body is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = make_server("127.0.0.1", 0, _serve, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}/"
    finally:
        srv.shutdown()
        thread.join()
        srv.server_close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server)
        yield pg
        browser.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_browser_reader_agrees_with_the_manifest(page: Any, server: str, name: str) -> None:
    case = CASES[name]
    got = page.evaluate(
        RUN_CASE, {"base": server + "vectors/", "keys": MANIFEST["trusted_keys"], "c": case}
    )
    assert got == case["expect"], case["why"]
