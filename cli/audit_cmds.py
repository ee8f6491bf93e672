"""``certseal audit``: check a published site's status list and transparency log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor import AuditorState, audit
from auditor.trustlist import TrustAuditState, audit_trust_list
from certseal.pki import ec_public_key, load_certificates
from certseal.timeutil import utcnow

EXIT_VIOLATION = 1


@click.command("audit")
@click.argument("source")
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="What the last audit saw; read, then updated after a clean audit (like a CT monitor). "
    "It pins the status-list key from the first run on.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The status-list certificate to trust (obtained from the school, not from its site).",
)
@click.option(
    "--pin",
    help="The SHA-256 fingerprint of the status-list certificate, or its key id, as the school "
    "announces it: the published certs/statuslist.pem must match.",
)
@click.option(
    "--accept-published-key",
    is_flag=True,
    help="Trust the site's own certs/statuslist.pem with nothing to pin it (the report says so). "
    "Without this, --key, --pin or --state, the audit fails.",
)
@click.option(
    "--trust-list",
    "trust_root",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Audit a federation's trust list instead: SOURCE is its trust/ folder or URL, this "
    "file the pinned root (1.root.json, obtained from the operator).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit_command(
    source: str,
    state_file: Path | None,
    key_file: Path | None,
    pin: str | None,
    accept_published_key: bool,
    trust_root: Path | None,
    as_json: bool,
) -> None:
    """Check that a published history was never rewritten.

    SOURCE is the published folder or the site's URL. Checks every signature, that the
    checkpoints form one history (and extend what --state remembers), that no event contradicts
    or back-dates an earlier one, that the status list says what the log says, and that no
    published file it relies on was deleted or changed. Exits 1 on any violation, naming it
    (docs/transparency.md).

    The signatures prove something only with a key you did not take from the site itself:
    give it with --key or --pin, or keep --state so the first key seen is pinned from then on.
    """
    if trust_root is not None:
        _audit_trust_list(source, trust_root, state_file, as_json)
        return
    state = AuditorState.load(state_file) if state_file else None
    key = ec_public_key(load_certificates(key_file.read_bytes())[0]) if key_file else None
    report = audit(
        source,
        reference_time=utcnow(),
        state=state,
        key=key,
        pin=pin,
        # Keeping a state file is asking to trust the first key seen and pin it from then on.
        require_pinned_key=not (accept_published_key or state_file),
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.to_text(), nl=False)
    if state_file and report.new_state is not None:
        report.new_state.save(state_file)
    if not report.ok:
        sys.exit(EXIT_VIOLATION)


def _audit_trust_list(source: str, root: Path, state_file: Path | None, as_json: bool) -> None:
    """``--trust-list``: the federation's trust list and its log (auditor/trustlist.py)."""
    state = TrustAuditState.load(state_file) if state_file else None
    report = audit_trust_list(source, root.read_bytes(), reference_time=utcnow(), state=state)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.to_text(), nl=False)
    if state_file and report.new_state is not None:
        report.new_state.save(state_file)
    if not report.ok:
        sys.exit(EXIT_VIOLATION)
