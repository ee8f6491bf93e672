"""``certseal audit``: check a published site's status list and transparency log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor import AuditorState, audit
from certseal.pki import ec_public_key, load_certificates
from certseal.timeutil import utcnow

EXIT_VIOLATION = 1


@click.command("audit")
@click.argument("source")
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="What the last audit saw; read, then updated after a clean audit (like a CT monitor).",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The status-list certificate to trust [default: the published certs/statuslist.pem].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit_command(
    source: str, state_file: Path | None, key_file: Path | None, as_json: bool
) -> None:
    """Check that a published history was never rewritten.

    SOURCE is the published folder or the site's URL. Checks every signature, that the
    checkpoints form one history (and extend what --state remembers), that no event contradicts
    or back-dates an earlier one, and that the status list says what the log says. Exits 1 on
    any violation, naming it (docs/transparency.md).
    """
    state = AuditorState.load(state_file) if state_file else None
    key = ec_public_key(load_certificates(key_file.read_bytes())[0]) if key_file else None
    report = audit(source, reference_time=utcnow(), state=state, key=key)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.to_text(), nl=False)
    if state_file and report.new_state is not None:
        report.new_state.save(state_file)
    if not report.ok:
        sys.exit(EXIT_VIOLATION)
