"""The browser's reader (site/static/statuslist.js) against the shared conformance vectors, in
a real chromium: every case gives exactly the manifest's outcome, as the Python reader does
(tests/test_vectors.py). The vectors and the script are served from 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.site.vector_harness import harness_page, harness_server

pytest.importorskip("playwright.sync_api")

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


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with harness_server(HARNESS, {"statuslist.js": SCRIPT}, VECTORS) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with harness_page(server) as pg:
        yield pg


@pytest.mark.parametrize("name", sorted(CASES))
def test_browser_reader_agrees_with_the_manifest(page: Any, server: str, name: str) -> None:
    case = CASES[name]
    got = page.evaluate(
        RUN_CASE, {"base": server + "vectors/", "keys": MANIFEST["trusted_keys"], "c": case}
    )
    assert got == case["expect"], case["why"]
