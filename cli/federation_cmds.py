"""``certseal federation``: the federation operator's commands (offline, but for ``refresh``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.errors import InputError, PassphraseError
from certseal.timeutil import format_time, parse_time, utcnow
from certseal.trustlist import TRUST_DIR, metadata_path
from federation.keys import ONLINE
from federation.operator import Operator, init_operator, root_notice
from federation.site import build_from_operator

PASSPHRASE_ENV = "CERTSEAL_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret


def default_home() -> Path:
    env = os.environ.get("CERTSEAL_FEDERATION_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "certseal" / "federation"


def passphrase_for(name: str) -> str:
    """``CERTSEAL_PASSPHRASE_<NAME>`` (each officer's own), else ``CERTSEAL_PASSPHRASE``, else
    a prompt; never the command line."""
    specific = f"{PASSPHRASE_ENV}_{name.upper().replace('-', '_')}"
    value = os.environ.get(specific) or os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"no passphrase for key {name}: set {specific} or {PASSPHRASE_ENV}",
            f"金鑰 {name} 沒有密碼：請設定 {specific} 或 {PASSPHRASE_ENV}",
        )
    prompted: str = click.prompt(f"Passphrase for {name}", hide_input=True)
    return prompted


class _Ctx:
    def __init__(self, home: Path, now: dt.datetime, as_json: bool) -> None:
        self.home = home
        self.now = now
        self.as_json = as_json

    def emit(self, data: Any, text: str) -> None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2) if self.as_json else text)

    def online(self, op: Operator) -> ec.EllipticCurvePrivateKey:
        return op.online_key(passphrase_for(ONLINE))

    def signers(self, op: Operator, names: tuple[str, ...]) -> list[ec.EllipticCurvePrivateKey]:
        chosen = list(names) or op.root_key_names[: op.threshold]
        unknown = [n for n in chosen if n not in op.root_key_names]
        if unknown:
            raise InputError(
                f"{unknown[0]} is not one of the root keys {', '.join(op.root_key_names)}",
                f"{unknown[0]} 不是根金鑰之一",
            )
        return op.signers(chosen, {n: passphrase_for(n) for n in chosen})


pass_ctx = click.make_pass_decorator(_Ctx)
key_option = click.option(
    "--key",
    "keys",
    multiple=True,
    help="A root key that signs (repeat; the threshold is needed) [default: the first ones].",
)


@click.group()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_home,
    show_default="$CERTSEAL_FEDERATION_HOME or ~/.local/share/certseal/federation",
    help="The operator's home folder (keys, trust list, log).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--now", "now_text", hidden=True, help="Reference time (RFC 3339 UTC), for tests.")
@click.pass_context
def federation(ctx: click.Context, home: Path, as_json: bool, now_text: str | None) -> None:
    """The federation operator: admits schools and publishes the signed trust list.

    Passphrases come from $CERTSEAL_PASSPHRASE_<KEY> (e.g. _ROOT_2), $CERTSEAL_PASSPHRASE or a
    prompt, never from the command line.
    """
    now = parse_time(now_text, "--now") if now_text else utcnow()
    ctx.obj = _Ctx(home, now, as_json)


@federation.command()
@click.option("--origin", required=True, help="The trust-list log's name, e.g. host/trust/log.")
@click.option("--root-keys", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option("--threshold", type=click.IntRange(1, 9), default=2, show_default=True)
@pass_ctx
def init(c: _Ctx, origin: str, root_keys: int, threshold: int) -> None:
    """Create the operator: root keys (offline), the online key, root v1, an empty list."""
    names = init_operator(
        c.home, origin, passphrase_for("root-1"), c.now, root_keys=root_keys, threshold=threshold
    )
    c.emit(
        {"home": str(c.home), "root_keys": names, "threshold": threshold},
        f"Federation operator set up in {c.home}: {threshold} of {len(names)} root keys "
        f"({', '.join(names)}) sign the trust list. Pin {c.home / 'repo/metadata/1.root.json'}.",
    )


@federation.command()
@click.argument("request_file", type=click.File("rb"))
@key_option
@click.option(
    "--confirm-key",
    help="The SHA-256 of the school's new status-list certificate, as the school read it to "
    "you by a channel you trust: re-admits a school whose earlier key cannot vouch.",
)
@pass_ctx
def admit(c: _Ctx, request_file: Any, keys: tuple[str, ...], confirm_key: str | None) -> None:
    """Admit a school from its signed request ('certseal authority export-request'), or take a
    listed school's new status-list key (signed by the key the list holds, or --confirm-key)."""
    with Operator(c.home) as op:
        entry = op.accept_request(
            request_file.read(), now=c.now, signers=c.signers(op, keys), online=c.online(op),
            confirm_key=confirm_key,
        )  # fmt: skip
    _show_entry(c, entry.profile.to_dict(), [k.to_dict() for k in entry.keys])


@federation.command("set-state")
@click.argument("school_id")
@click.argument("state", type=click.Choice(["suspended", "active", "merged", "closed"]))
@click.option("--successor", help="The school that keeps the records (merged, closed).")
@click.option("--at", "at_text", help="When it took effect (RFC 3339 UTC) [default: now].")
@key_option
@pass_ctx
def set_state(
    c: _Ctx,
    school_id: str,
    state: str,
    successor: str | None,
    at_text: str | None,
    keys: tuple[str, ...],
) -> None:
    """Suspend, reinstate (active), merge or close a school."""
    at = parse_time(at_text, "--at") if at_text else c.now
    with Operator(c.home) as op:
        profile = op.set_state(
            school_id, state, at=at, now=c.now, successor=successor,
            signers=c.signers(op, keys), online=c.online(op),
        )  # fmt: skip
    c.emit(profile.to_dict(), f"{school_id} is {state} from {format_time(at)}.")


@federation.command("update-keys")
@click.argument("school_id")
@click.argument("role_file", type=click.File("rb"))
@pass_ctx
def update_keys(c: _Ctx, school_id: str, role_file: Any) -> None:
    """Publish a school's new key history, signed by the school (no root key needed)."""
    with Operator(c.home) as op:
        entry = op.update_role(school_id, role_file.read(), now=c.now, online=c.online(op))
    _show_entry(c, entry.profile.to_dict(), [k.to_dict() for k in entry.keys])


@federation.command()
@key_option
@click.option("--targets", is_flag=True, help="Re-sign the list itself too (needs root keys).")
@pass_ctx
def refresh(c: _Ctx, keys: tuple[str, ...], targets: bool) -> None:
    """Re-sign snapshot and timestamp before they expire (run daily)."""
    with Operator(c.home) as op:
        signers = c.signers(op, keys) if targets else []
        state = op.refresh(now=c.now, online=c.online(op), signers=signers)
        expires = op.root_expires()
    c.emit(
        {**state.to_dict(), "root_expires": format_time(expires)},
        f"Timestamp version {state.timestamp} signed at {state.time}.",
    )
    _warn_root(c, expires)


@federation.command("renew-root")
@key_option
@pass_ctx
def renew_root(c: _Ctx, keys: tuple[str, ...]) -> None:
    """Sign the next root version (same keys, new expiry) before the root expires; then
    publish. Needs the threshold of root keys."""
    with Operator(c.home) as op:
        root = op.renew_root(now=c.now, signers=c.signers(op, keys), online=c.online(op))
    expires = format_time(root.expires)
    c.emit(
        {"root_version": root.version, "root_expires": expires},
        f"Root version {root.version} signed; it expires at {expires}. Run 'certseal federation "
        f"publish' to publish it.\n根中繼資料第 {root.version} 版已簽署，效期至 {expires}；"
        "請執行 certseal federation publish 公布。",
    )


def _school_folder(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    folders = {}
    for value in values:
        sid, sep, folder = value.partition("=")
        if not sep or not sid or not folder:
            raise click.BadParameter(f"{value!r} is not ID=FOLDER", ctx, param)
        folders[sid] = Path(folder)
    return folders


@federation.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--site", is_flag=True, help="Also build the national public site into the same folder."
)
@click.option(
    "--school",
    "schools",
    multiple=True,
    callback=_school_folder,
    metavar="ID=FOLDER",
    help="With --site: copy this school's published status list (FOLDER/status) into the site "
    "(repeat); other schools' lists are read from their own addresses.",
)
@click.option(
    "--verifier-url",
    default="",
    help="With --site: the national verifier's address (empty: it serves the site itself).",
)
@pass_ctx
def publish(
    c: _Ctx, out_dir: Path, site: bool, schools: dict[str, Path], verifier_url: str
) -> None:
    """Copy the trust list and its log into a folder a static web host serves (under trust/),
    and with --site build the national site beside it (schools, verify, check without
    uploading)."""
    if schools and not site:
        raise InputError("--school needs --site", "--school 須與 --site 一起使用")
    with Operator(c.home) as op:
        written = op.publish(out_dir)
        root = (op.repo / metadata_path("root", 1)).read_bytes()
    pages = 0
    if site:
        pages = len(
            build_from_operator(
                out_dir,
                out_dir / TRUST_DIR,
                root,
                now=c.now,
                schools=schools,
                verifier_url=verifier_url,
            )
        )
    c.emit(
        {"written": written, "site_files": pages, "out": str(out_dir)},
        f"{written} files written to {out_dir}."
        + (f" National site: {pages} files." if site else ""),
    )


@federation.command("list")
@pass_ctx
def list_(c: _Ctx) -> None:
    """List the schools, their state and key fingerprints."""
    with Operator(c.home) as op:
        tl = op.trust_list(c.now)
        expires = op.root_expires()
    data = [
        {**s.profile.to_dict(), "keys": [k.to_dict() for k in s.keys]} for s in tl.schools.values()
    ]
    lines = []
    for s in tl.schools.values():
        p = s.profile
        lines.append(f"{p.school_id:<8} {p.current.state:<9} {p.name_zh}  {p.name_en}")
        lines += [
            f"    {k.role:<10} {k.cert_sha256[:32]}…  {format_time(k.valid_from)} → "
            f"{format_time(k.valid_to)}" + (f"  revoked {k.reason}" if k.reason else "")
            for k in s.keys
        ]
    c.emit(data, "\n".join(lines) or "No schools yet.")
    _warn_root(c, expires)


def _warn_root(c: _Ctx, expires: dt.datetime) -> None:
    """Say, on stderr (the output stays parseable), that the root must be renewed soon."""
    notice = root_notice(expires, c.now)
    if notice is not None:
        click.echo(f"Warning: {notice[0]}\n警告：{notice[1]}", err=True)


def _show_entry(c: _Ctx, profile: dict[str, Any], keys: list[dict[str, Any]]) -> None:
    lines = [f"{profile['id']}: {profile['name_en']} ({profile['name_zh']})"]
    lines += [f"  {k['role']:<10} sha256 {k['cert_sha256']}" for k in keys]
    c.emit({"school": profile, "keys": keys}, "\n".join(lines))
