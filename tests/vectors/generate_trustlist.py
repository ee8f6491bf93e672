"""Conformance vectors for trust-list readers: ``python -m tests.vectors.generate_trustlist``.

Each case is a published ``trust/`` folder (TUF metadata, ``docs/trust-list.md``) under
``tests/vectors/trustlist/<case>/``. The manifest (``trustlist/manifest.json``) gives each
case's pinned root (its own ``metadata/1.root.json``), the reference time, the case whose list
the reader trusted before (for rollback), and the expected outcome: the versions and every
school's state and keys, or the kind of error. The Python reader
(:class:`certseal.trustlist.TrustListClient`, ``tests/federation/test_trustlist_vectors.py``)
and the browser's ``site/static/trustlist.js`` (``tests/site/test_trustlist_vectors_js.py``)
must both give exactly that. ``canonical`` holds TUF's canonical JSON (securesystemslib's
``encode_canonical``, which leaves control characters unescaped, unlike the project's own)
of a few awkward values, for the browser to re-create byte for byte.

Reproducible: fixed far-future times, keys derived from fixed phrases, deterministic ECDSA
(RFC 6979). ``--check`` regenerates into a temporary folder and fails if the committed files
differ. THE KEYS ARE FOR TESTS ONLY: anyone can derive them from the phrases below.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import filecmp
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Signature
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    Targets,
    Timestamp,
)

from certseal.pki import spki_der
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import (
    KeyRecord,
    SchoolProfile,
    StateChange,
    group_of,
    list_of_schools,
    metadata_path,
    put_school,
    school_path,
    school_role,
    to_bytes,
    tuf_key,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "trustlist"


def _test_only_key(phrase: str) -> ec.EllipticCurvePrivateKey:
    """A key anyone can re-derive from its phrase: never trust it outside these tests."""
    scalar = int.from_bytes(hashlib.sha256(phrase.encode()).digest(), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


ROOTS = [_test_only_key(f"certseal trust-list vectors: TEST-ONLY root key {i}") for i in (1, 2, 3)]
NEW_ROOT = _test_only_key("certseal trust-list vectors: TEST-ONLY rotated root key")
ONLINE = _test_only_key("certseal trust-list vectors: TEST-ONLY online key")
WRONG = _test_only_key("certseal trust-list vectors: TEST-ONLY untrusted key")
STATUS = {
    sid: _test_only_key(f"certseal trust-list vectors: TEST-ONLY status key of {sid}")
    for sid in ("VECA", "VECB")
}
SIGNING = {
    sid: _test_only_key(f"certseal trust-list vectors: TEST-ONLY signing key of {sid}")
    for sid in ("VECA", "VECB")
}

T0 = parse_time("2096-01-01T00:00:00Z")
REFERENCE = T0 + dt.timedelta(hours=1)
ERROR_KINDS = ("signature", "rollback", "expired", "format", "fetch")

# Awkward values for TUF's canonical JSON: control characters stay raw, only " and \ are
# escaped, keys sort by code point, non-ASCII text is UTF-8.
CANONICAL_SAMPLES: list[Any] = [
    {"b": 1, "a": [True, False, None], "é": "國立示範大學", "A": {"z": -1, "y": 2**53 - 1}},
    {"ctl": 'tab\tnl\nquote"back\\slash\u0001\u001f\u007f\u2028', "emoji": "😀"},
    {"\ue000": 1, "😀": 2, "a": 3},
    [],
    {},
    "",
    "line\r\nbreak",
]


def _sign(md: Metadata[Any], key: ec.EllipticCurvePrivateKey) -> None:
    """TUF's signature (hex DER over its canonical JSON), but deterministic (RFC 6979)."""
    keyid = tuf_key(key.public_key()).keyid
    der = key.sign(md.signed_bytes, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    md.signatures[keyid] = Signature(keyid, der.hex())


def _record(sid: str, role: str, key: ec.EllipticCurvePrivateKey, **extra: Any) -> KeyRecord:
    """A key record; the certificate is a stand-in (readers never fetch it)."""
    cert = b"TEST-ONLY certificate stand-in: " + sid.encode() + b" " + role.encode()
    return KeyRecord(
        hashlib.sha256(cert).hexdigest(),
        len(cert),
        role,
        spki_der(key.public_key()),
        T0 - dt.timedelta(days=400),
        T0 + dt.timedelta(days=3000),
        **extra,
    )


def _profile(sid: str, lifecycle: tuple[StateChange, ...], **extra: Any) -> SchoolProfile:
    base = f"https://verify.{sid.lower()}.example.edu.tw"
    names = {"VECA": ("向量甲大學", "Vector A University"), "VECB": ("向量乙大學", "Vector B")}
    return SchoolProfile(
        sid,
        *names[sid],
        (f"{sid.lower()}.example.edu.tw",),
        f"{base}/status/",
        f"{base}/log/",
        lifecycle,
        **extra,
    )


@dataclass
class Repo:
    """One case's trust list, built step by step and then written out."""

    files: dict[str, bytes] = field(default_factory=dict)
    root_keys: list[ec.EllipticCurvePrivateKey] = field(default_factory=lambda: list(ROOTS))
    root_expires: dt.datetime = T0 + dt.timedelta(days=365)
    timestamp_expires: dt.datetime = T0 + dt.timedelta(days=1)

    def root(
        self, version: int = 1, signers: list[ec.EllipticCurvePrivateKey] | None = None
    ) -> Root:
        root = Root(version=version, expires=self.root_expires, consistent_snapshot=True)
        for role in ("root", "targets", "snapshot", "timestamp"):
            root.roles[role].keyids.clear()
        for key in self.root_keys:
            for role in ("root", "targets"):
                root.add_key(tuf_key(key.public_key()), role)
        for role in ("snapshot", "timestamp"):
            root.add_key(tuf_key(ONLINE.public_key()), role)
        root.roles["root"].threshold = 2
        root.roles["targets"].threshold = 2
        md = Metadata(root)
        for key in signers if signers is not None else self.root_keys:
            _sign(md, key)
        self.files[metadata_path("root", version)] = to_bytes(md)
        return root


def _school_roles(
    repo: Repo,
    *,
    role_signer: Callable[[str], ec.EllipticCurvePrivateKey] = lambda sid: STATUS[sid],
    key_extra: dict[str, Any] | None = None,
    foreign_path: bool = False,
) -> dict[str, int]:
    versions = {}
    for sid in ("VECA", "VECB"):
        keys = [
            _record(sid, "statuslist", STATUS[sid]),
            _record(sid, "signing", SIGNING[sid], **({"extra": key_extra} if key_extra else {})),
        ]
        role = school_role(sid, keys, 1, T0 + dt.timedelta(days=365))
        if foreign_path and sid == "VECA":
            other = _record("VECB", "signing", SIGNING["VECB"])
            target = other.target("VECB")
            role.signed.targets[target.path] = target
        _sign(role, role_signer(sid))
        repo.files[metadata_path(sid, 1)] = to_bytes(role)
        versions[sid] = 1
    return versions


def build(
    *,
    timestamp_version: int = 2,
    targets_signers: int = 2,
    timestamp_key: ec.EllipticCurvePrivateKey = ONLINE,
    snapshot_hash_ok: bool = True,
    targets_version_in_snapshot: int = 1,
    rotate_root: str | None = None,
    root_expires: dt.datetime | None = None,
    timestamp_expires: dt.datetime | None = None,
    role_signer: Callable[[str], ec.EllipticCurvePrivateKey] = lambda sid: STATUS[sid],
    key_extra: dict[str, Any] | None = None,
    foreign_path: bool = False,
    profile_tampered: bool = False,
    school_twice: bool = False,
) -> dict[str, bytes]:
    """A trust list of two schools: VECA (active) and VECB (merged into VECA)."""
    repo = Repo()
    if root_expires is not None:
        repo.root_expires = root_expires
    repo.root(1)
    if rotate_root is not None:
        old = list(repo.root_keys)
        repo.root_keys = [ROOTS[0], ROOTS[1], NEW_ROOT]
        signers = [*old, NEW_ROOT] if rotate_root == "good" else [old[0], NEW_ROOT]
        repo.root(2, signers)
    roles = _school_roles(
        repo, role_signer=role_signer, key_extra=key_extra, foreign_path=foreign_path
    )
    admitted = T0 - dt.timedelta(days=30)
    profiles = {
        "VECA": _profile("VECA", (StateChange("active", admitted),), predecessors=("VECB",)),
        "VECB": _profile(
            "VECB",
            (
                StateChange("active", admitted),
                StateChange("merged", T0 - dt.timedelta(days=2), "VECA"),
            ),
        ),
    }
    groups: dict[str, Targets] = {}
    for sid, profile in profiles.items():
        homes = [group_of(sid)] + ([group_of("VECA")] if school_twice and sid == "VECB" else [])
        for name in homes:
            group = groups.setdefault(name, Targets(expires=T0 + dt.timedelta(days=90)))
            put_school(group, profile, tuf_key(STATUS[sid].public_key()))
            if profile_tampered and sid == "VECB":
                custom = group.targets[school_path(sid)].unrecognized_fields["custom"]
                custom["school"]["name_en"] = "Not Vector B"
    members = {
        name: [r for r in g.delegations.roles or {}] if g.delegations else []
        for name, g in groups.items()
    }
    offline = [tuf_key(k.public_key()) for k in repo.root_keys]
    targets = list_of_schools(offline, 2, members, 1, T0 + dt.timedelta(days=90))
    targets_md = Metadata(targets)
    for key in repo.root_keys[:targets_signers]:
        _sign(targets_md, key)
    # Under the name the snapshot gives, whatever version the file holds.
    repo.files[metadata_path("targets", targets_version_in_snapshot)] = to_bytes(targets_md)
    for name, group in groups.items():
        group_md = Metadata(group)
        for key in repo.root_keys[:2]:
            _sign(group_md, key)
        repo.files[metadata_path(name, 1)] = to_bytes(group_md)
    meta = {"targets.json": MetaFile(targets_version_in_snapshot)}
    meta.update({f"{name}.json": MetaFile(1) for name in sorted(groups)})
    meta.update({f"{sid}.json": MetaFile(v) for sid, v in roles.items()})
    snapshot = Snapshot(version=timestamp_version, expires=T0 + dt.timedelta(days=7), meta=meta)
    snapshot_md = Metadata(snapshot)
    _sign(snapshot_md, ONLINE)
    snapshot_bytes = to_bytes(snapshot_md)
    repo.files[metadata_path("snapshot", timestamp_version)] = snapshot_bytes
    pinned = snapshot_bytes if snapshot_hash_ok else snapshot_bytes + b" "
    timestamp = Timestamp(
        version=timestamp_version,
        expires=timestamp_expires or repo.timestamp_expires,
        snapshot_meta=MetaFile(
            timestamp_version, len(pinned), {"sha256": hashlib.sha256(pinned).hexdigest()}
        ),
    )
    timestamp_md = Metadata(timestamp)
    _sign(timestamp_md, timestamp_key)
    repo.files[metadata_path("timestamp")] = to_bytes(timestamp_md)
    return repo.files


GOOD_SCHOOLS = {"VECA": "active", "VECB": "merged"}


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    files: dict[str, bytes]
    error: str | None = None
    seen: str | None = None
    reference_time: dt.datetime = REFERENCE


def cases() -> list[Case]:
    def failing(name: str, why: str, error: str, **kw: Any) -> Case:
        seen = kw.pop("seen", None)
        return Case(name, why, build(**kw), error, seen)

    return [
        Case("good", "two schools, one merged into the other; every signature valid", build()),
        Case(
            "root_rotated",
            "root v2 replaces a root key, signed by the old and the new threshold",
            build(rotate_root="good"),
        ),
        Case(
            "control_characters_in_a_signed_field",
            "a key record keeps an unknown field holding a newline and a tab: TUF's canonical "
            "JSON leaves them raw, the project's would escape them",
            build(key_extra={"note": 'line one\nline\ttwo "quoted" \\ back'}),
        ),
        failing(
            "root_rotation_below_threshold",
            "root v2 is signed by only one of the old root keys",
            "signature",
            rotate_root="bad",
        ),
        failing(
            "targets_below_threshold",
            "the list of schools is signed by one root key of the two it needs",
            "signature",
            targets_signers=1,
        ),
        failing(
            "timestamp_forged",
            "the timestamp is signed by a key the root does not name",
            "signature",
            timestamp_key=WRONG,
        ),
        failing(
            "snapshot_not_the_pinned_file",
            "the snapshot is not the file whose hash the timestamp signs",
            "signature",
            snapshot_hash_ok=False,
        ),
        failing(
            "school_role_signed_by_another_school",
            "VECA's key history is signed with VECB's status-list key",
            "signature",
            role_signer=lambda sid: STATUS["VECB"],
        ),
        failing(
            "school_lists_another_schools_key",
            "VECA's key history lists a certificate under schools/VECB/keys/",
            "format",
            foreign_path=True,
        ),
        failing(
            "profile_not_its_signed_hash",
            "VECB's profile does not hash to the value the signed list gives",
            "format",
            profile_tampered=True,
        ),
        failing(
            "school_in_two_groups",
            "VECB's profile and delegation are in its own group and in VECA's, both signed",
            "format",
            school_twice=True,
        ),
        failing(
            "targets_version_not_the_snapshots",
            "the snapshot names targets version 2, the file holds version 1",
            "rollback",
            targets_version_in_snapshot=2,
        ),
        failing(
            "rolled_back",
            "an older timestamp (version 1) after the reader trusted version 2",
            "rollback",
            timestamp_version=1,
            seen="good",
        ),
        failing(
            "timestamp_expired",
            "the timestamp expired before the reference time",
            "expired",
            timestamp_expires=REFERENCE - dt.timedelta(minutes=1),
        ),
        failing(
            "root_expired",
            "the pinned root expired before the reference time",
            "expired",
            root_expires=REFERENCE - dt.timedelta(minutes=1),
        ),
    ]


def expected(files: dict[str, bytes]) -> dict[str, Any]:
    """The outcome of a valid case, computed from its files (what a reader must report)."""
    timestamp = Metadata[Timestamp].from_bytes(files[metadata_path("timestamp")])
    version = timestamp.signed.snapshot_meta.version
    snapshot = Metadata[Snapshot].from_bytes(files[metadata_path("snapshot", version)])
    targets_version = snapshot.signed.meta["targets.json"].version
    targets = Metadata[Targets].from_bytes(files[metadata_path("targets", targets_version)])
    schools = {}
    assert targets.signed.delegations is not None and targets.signed.delegations.roles
    for name in targets.signed.delegations.roles:
        group_version = snapshot.signed.meta[f"{name}.json"].version
        group = Metadata[Targets].from_bytes(files[metadata_path(name, group_version)])
        for path, target in sorted(group.signed.targets.items()):
            profile = SchoolProfile.from_dict(target.custom["school"])
            role_version = snapshot.signed.meta[f"{profile.school_id}.json"].version
            role = Metadata[Targets].from_bytes(
                files[metadata_path(profile.school_id, role_version)]
            )
            assert path == school_path(profile.school_id)
            schools[profile.school_id] = {
                "state": profile.current.state,
                "role_version": role_version,
                "keys": sorted(t.hashes["sha256"] for t in role.signed.targets.values()),
            }
    schools = dict(sorted(schools.items()))
    return {
        "ok": True,
        "timestamp_version": timestamp.signed.version,
        "snapshot_version": version,
        "targets_version": targets_version,
        "schools": schools,
    }


def write(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    manifest_cases = []
    for case in cases():
        for rel, data in case.files.items():
            path = out / case.name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        manifest_cases.append(
            {
                "name": case.name,
                "why": case.why,
                "reference_time": format_time(case.reference_time),
                "seen": case.seen,
                "expect": {"ok": False, "error": case.error}
                if case.error
                else expected(case.files),
            }
        )
    manifest = {
        "about": __doc__.split("\n")[0],
        "error_kinds": list(ERROR_KINDS),
        "cases": manifest_cases,
        "canonical": [
            {
                "value": v,
                "tuf": base64.b64encode(encode_canonical(v).encode()).decode(),  # type: ignore[union-attr]
            }
            for v in CANONICAL_SAMPLES
        ],
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8"
    )


def _same(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    files = [p.relative_to(a) for p in a.rglob("*") if p.is_file()]
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in files) and all(
        _same(a / d, b / d) for d in cmp.common_dirs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args(argv)
    if not args.check:
        write(OUT)
        print(f"wrote {OUT}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "trustlist"
        write(fresh)
        if not _same(fresh, OUT):
            print(f"{OUT} differs from what the script generates: run it", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
