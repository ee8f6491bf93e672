"""``certseal federation publish --site``: the national site built from the operator's folder
(pages checked in chromium by tests/site/test_site_national.py)."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

from click.testing import CliRunner

from certseal.timeutil import format_time
from certseal.trustlist import metadata_path
from cli import main
from tests.conftest import PASSPHRASE
from tests.federation.conftest import T0, Federation


def test_publish_builds_the_national_site(federation: Federation, tmp_path: Path) -> None:
    runner = CliRunner(env={"CERTSEAL_PASSPHRASE": PASSPHRASE})
    now = format_time(T0 + dt.timedelta(hours=5))
    base = ["federation", "--home", str(federation.home), "--now", now, "publish"]
    out = tmp_path / "site"
    bad = runner.invoke(main, [*base, "--out", str(out), "--site", "--school", "NTHU"])
    assert bad.exit_code == 2 and "is not ID=FOLDER" in bad.output
    missing = runner.invoke(main, [*base, "--out", str(out), "--site", "--school", "X=/nowhere"])
    assert missing.exit_code == 2 and "school X is not in the trust list" in missing.output
    ok = runner.invoke(main, [*base, "--out", str(out), "--site"])
    assert ok.exit_code == 0, ok.output
    check = (out / "check.html").read_text("utf-8")
    root = (federation.home / "repo" / metadata_path("root", 1)).read_bytes()
    assert f'data-trust-root="{base64.b64encode(root).decode()}"' in check
    # Each school's status list is read from its own origin, and only those are allowed.
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', check)
    assert csp is not None
    assert "connect-src &#39;self&#39; https://verify.nkust.edu.tw https://verify.ntcu" in csp[1]
    schools = (out / "en" / "schools.html").read_text("utf-8")
    assert schools.count('class="panel school"') == 3
    assert "National Tsing Hua University" in schools
