"""The browser's trust-list reader (site/static/trustlist.js) against the shared conformance
vectors, in a real chromium: every case gives exactly the manifest's outcome, as the Python
reader does (tests/federation/test_trustlist_vectors.py), and TUF's canonical JSON comes out
byte for byte as securesystemslib writes it. Everything is served from 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.site.vector_harness import harness_page, harness_server

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "trustlist"
STATIC = ROOT / "site" / "static"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
CASES = {c["name"]: c for c in MANIFEST["cases"]}
HARNESS = b"""<!doctype html><html lang="en"><meta charset="utf-8"><title>vectors</title>
<script src="/statuslist.js"></script><script src="/trustlist.js"></script></html>"""

RUN_CASE = """async ({base, c}) => {
  const SL = window.CertsealStatusList;
  const TL = window.CertsealTrustList;
  const kind = (e) => (e && e.kind) || ("unexpected " + e);
  const from = (folder) => (path, limit, mode) =>
    SL.fetchBytes(base + folder + "/" + path, limit, mode);
  const now = SL.parseTime(c.reference_time, "time");
  let tl;
  try {
    const root = await SL.fetchBytes(base + c.name + "/metadata/1.root.json", 1 << 20);
    let seen = {};
    if (c.seen) seen = (await TL.load("", root, now, {fetch: from(c.seen)})).seen;
    tl = await TL.load("", root, now, {fetch: from(c.name), seen: seen});
  } catch (e) {
    return {ok: false, error: kind(e)};
  }
  const schools = {};
  for (const sid of Object.keys(tl.schools).sort()) {
    const s = tl.schools[sid];
    schools[sid] = {
      state: s.profile.lifecycle[s.profile.lifecycle.length - 1].state,
      role_version: s.roleVersion,
      keys: s.keys.map((k) => k.cert_sha256).sort(),
    };
  }
  return {ok: true, timestamp_version: tl.timestampVersion, snapshot_version: tl.snapshotVersion,
          targets_version: tl.targetsVersion, schools: schools};
}"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with harness_server(
        HARNESS, {n: STATIC / n for n in ("statuslist.js", "trustlist.js")}, VECTORS
    ) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with harness_page(server) as pg:
        yield pg


@pytest.mark.parametrize("name", sorted(CASES))
def test_browser_reader_agrees_with_the_manifest(page: Any, server: str, name: str) -> None:
    case = CASES[name]
    got = page.evaluate(RUN_CASE, {"base": server + "vectors/", "c": case})
    assert got == case["expect"], case["why"]


def test_tuf_canonical_json_is_securesystemslibs(page: Any) -> None:
    for sample in MANIFEST["canonical"]:
        got = page.evaluate("v => window.CertsealTrustList.tufCanonical(v)", sample["value"])
        assert got.encode() == base64.b64decode(sample["tuf"]), sample["value"]


def test_der_signatures_become_raw_r_and_s(page: Any) -> None:
    """Short and long integers (leading zero byte) are padded and trimmed; junk is refused."""
    der = "3006020101020102"  # r = 1, s = 2
    got = page.evaluate(
        "h => Array.from(window.CertsealTrustList.derToRaw(Uint8Array.from(h.match(/../g), "
        "x => parseInt(x, 16))))",
        der,
    )
    assert got == [0] * 31 + [1] + [0] * 31 + [2]
    long_r = "3026022100" + "ff" * 32 + "020102"
    got = page.evaluate(
        "h => Array.from(window.CertsealTrustList.derToRaw(Uint8Array.from(h.match(/../g), "
        "x => parseInt(x, 16))))",
        long_r,
    )
    assert got == [255] * 32 + [0] * 31 + [2]
    bad = page.evaluate(
        "h => window.CertsealTrustList.derToRaw(Uint8Array.from(h.match(/../g), "
        "x => parseInt(x, 16)))",
        "3007020101020102ff",
    )
    assert bad is None
