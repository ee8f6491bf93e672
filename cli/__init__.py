"""The ``certseal`` command: parse options, call the library, show errors once.

One module per command family; this one only assembles them and turns a CertsealError into a
plain message and an exit code.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from certseal.errors import CertsealError
from cli.audit_cmds import audit_command
from cli.authority_cmds import authority
from cli.delivery_cmds import register as register_delivery
from cli.federation_cmds import federation
from cli.verifier_cmds import verifier
from cli.verify_cmds import register as register_evaluators


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CertsealError as e:
            click.echo(f"error: {e.message('en')}", err=True)
            if e.zh != e.en:
                click.echo(f"錯誤：{e.message('zh-TW')}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certseal")
def main() -> None:
    """certseal: issue signed digital diplomas, publish their status, verify them.

    \b
    certseal authority ...   the registrar's offline signing authority
    certseal verifier ...    the public verification service
    certseal audit ...       check a published status list and its history
    certseal federation ...  the federation operator's trust list of schools
    certseal verify ...      verify documents offline (receipt, snapshot: evaluators' tools)
    """


register_delivery(authority)
main.add_command(authority)
main.add_command(verifier)
main.add_command(audit_command)
main.add_command(federation)
register_evaluators(main)
