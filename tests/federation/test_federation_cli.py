"""``certseal authority export-request`` and ``certseal federation ...`` end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from certseal.fetch import published_fetcher
from certseal.timeutil import format_time
from certseal.trustlist import TRUST_DIR, TrustListClient, metadata_path
from cli import main
from tests.conftest import NOW, PASSPHRASE


def test_operator_admits_a_school_from_its_exported_request(tmp_path: Path) -> None:
    env = {
        "CERTSEAL_HOME": str(tmp_path / "school"),
        "CERTSEAL_FEDERATION_HOME": str(tmp_path / "operator"),
        "CERTSEAL_PASSPHRASE": PASSPHRASE,
    }
    runner = CliRunner(env=env)
    t = [format_time(NOW - dt.timedelta(minutes=m)) for m in (30, 20, 10, 5)]

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("authority", "--now", t[0], "init", "--demo")
    request = tmp_path / "request.json"
    run(
        "authority",
        "--now",
        t[1],
        "export-request",
        "--out",
        str(request),
        "--domain",
        "demo.edu.tw",
    )
    run("federation", "--now", t[1], "init", "--origin", "trust.example.tw/trust/log")
    out = run(
        "federation", "--now", t[2], "admit", str(request), "--key", "root-2", "--key", "root-3"
    )
    assert "DEMO: National Demonstration University" in out
    export = ["export-request", "--out", str(request), "--domain", "demo.edu.tw"]
    again = runner.invoke(main, ["authority", "--now", t[2], *export])
    assert again.exit_code == 2 and "already exists" in again.output
    one = runner.invoke(main, ["federation", "--now", t[3], "set-state", "DEMO", "suspended",
                               "--key", "root-1"])  # fmt: skip
    assert one.exit_code == 2 and "needs 2 of the offline keys" in one.output
    run("federation", "--now", t[3], "set-state", "DEMO", "suspended")
    listed = json.loads(run("federation", "--json", "--now", t[3], "list"))
    assert [s["lifecycle"][-1]["state"] for s in listed] == ["suspended"]
    run("federation", "publish", "--out", str(tmp_path / "site"))
    root = (tmp_path / "operator" / "repo" / metadata_path("root", 1)).read_bytes()
    reader = TrustListClient(published_fetcher(str(tmp_path / "site"), TRUST_DIR), root)
    assert reader.refresh(NOW).schools["DEMO"].profile.current.state == "suspended"
