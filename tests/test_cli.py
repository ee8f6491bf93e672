"""The command line: --help everywhere, --json where it returns data, plain errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import PASSPHRASE, sample_bytes


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("path", _commands(main), ids=lambda p: " ".join(p) or "certseal")
def test_help_everywhere(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    return CliRunner(
        env={"CERTSEAL_HOME": str(tmp_path / "home"), "CERTSEAL_PASSPHRASE": PASSPHRASE}
    )


def test_registrar_flow_with_json(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["authority", "init", "--demo"]).exit_code == 0
    csv = tmp_path / "graduates.csv"
    csv.write_bytes(sample_bytes("graduates.csv"))
    res = runner.invoke(main, ["authority", "--json", "import", "graduates", str(csv)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["rejected"] == []
    sid = "B11101001"
    assert runner.invoke(main, ["authority", "collected", sid]).exit_code == 0
    due = json.loads(runner.invoke(main, ["authority", "--json", "due"]).output)
    assert [d["student_id"] for d in due] == [sid]
    res = runner.invoke(main, ["authority", "--json", "issue", "--due", "--workers", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(
        res.output.split("\n", 1)[-1] if not res.output.startswith("{") else res.output
    )
    doc_id = doc["issued"][0]["doc_id"]
    res = runner.invoke(
        main,
        [
            "authority",
            "--json",
            "revoke",
            doc_id,
            "--reason-code",
            "issued_in_error",
            "--reason",
            "typo",
        ],
    )
    assert res.exit_code == 0, res.output
    shown = json.loads(runner.invoke(main, ["authority", "--json", "show", doc_id]).output)
    assert [e["kind"] for e in shown["events"]] == ["issued", "revoked"]
    res = runner.invoke(main, ["authority", "--json", "publish", "--out", str(tmp_path / "site")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["revoked"] == 1


def test_bad_rows_exit_5_with_line_and_field(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["authority", "init", "--demo"])
    text = sample_bytes("graduates.csv").decode("utf-8-sig").splitlines()
    text[3] = text[3].replace("@demo.edu.tw", "@")
    csv = tmp_path / "bad.csv"
    csv.write_text("\n".join(text) + "\n", encoding="utf-8")
    res = runner.invoke(main, ["authority", "import", "graduates", str(csv)])
    assert res.exit_code == 5
    assert "line 4, field 'school_email'" in res.output


def test_wrong_passphrase_exit_4(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["authority", "init", "--demo"])
    res = runner.invoke(
        main,
        ["authority", "publish", "--out", str(tmp_path / "o")],
        env={"CERTSEAL_PASSPHRASE": "not-the-passphrase"},
    )
    assert res.exit_code == 4
    assert "does not unlock" in res.output
    assert "密碼無法解開" in res.output


def test_not_set_up_exit_3(runner: CliRunner) -> None:
    res = runner.invoke(main, ["authority", "list"])
    assert res.exit_code == 3
    assert "certseal authority init" in res.output


def test_passphrase_never_on_the_command_line() -> None:
    for path in _commands(main):
        cmd: click.Command = main
        for name in path:
            assert isinstance(cmd, click.Group)
            cmd = cmd.commands[name]
        assert not any("pass" in p.name for p in cmd.params if p.name), path
