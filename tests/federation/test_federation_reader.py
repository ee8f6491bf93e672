"""The trust list as a relying party reads it: over real HTTP, with TUF's client rules, against
its transparency log, and the key that was valid when a document was issued."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer
from tuf.api.metadata import Metadata, MetaFile, Snapshot, Timestamp

from certseal import pki, tlog, trustlist
from certseal.errors import ExpiredError, RollbackError, SignatureVerificationError
from certseal.eventlog import PublishedLog
from certseal.fetch import published_fetcher
from certseal.trustlist import (
    KeyRecord,
    TrustEvent,
    TrustListClient,
    compare_with_log,
    metadata_path,
)
from tests.federation.conftest import T0, Federation
from tests.federation.test_federation_operator import rotate

LATER = T0 + dt.timedelta(days=1)


def publish(fed: Federation, out: Path) -> Path:
    with fed.operator() as op:
        op.publish(out)
    return out / trustlist.TRUST_DIR


def client(folder: Path, fed: Federation) -> TrustListClient:
    root = (fed.home / "repo" / metadata_path("root", 1)).read_bytes()
    return TrustListClient(published_fetcher(str(folder), "."), root)


def logged_events(folder: Path, fed: Federation) -> list[TrustEvent]:
    """Every leaf of the published trust-list log, after checking its signed checkpoint."""
    log = PublishedLog(published_fetcher(str(folder), "log"))
    cp = log.open("trust.moe.example.tw/trust/log", [fed.online.public_key()])
    leaves: list[bytes] = []
    for index in range((cp.size + 255) // 256):
        leaves += log.bundle(index, cp.size)
    assert log.tree(cp.size).root() == cp.root_hash
    # The leaves published are exactly the ones the signed checkpoint commits to.
    assert tlog.MerkleTree(b"".join(tlog.leaf_hash(x) for x in leaves)).root() == cp.root_hash
    return [TrustEvent.from_bytes(leaf) for leaf in leaves]


def forge(
    folder: Path,
    online: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    files: dict[str, Metadata[Any]],
) -> None:
    """Publish ``files`` (role name -> metadata) with a fresh snapshot and timestamp, as a
    host holding only the online key could: no log event, no offline key."""
    meta = folder / "metadata"
    ts = Metadata[Timestamp].from_bytes((meta / "timestamp.json").read_bytes()).signed
    old = Metadata[Snapshot].from_bytes(
        (meta / f"{ts.snapshot_meta.version}.snapshot.json").read_bytes()
    )
    snapshot = old.signed
    for name, md in files.items():
        (meta / f"{md.signed.version}.{name}.json").write_bytes(trustlist.to_bytes(md))
        snapshot.meta[f"{name}.json"] = MetaFile(md.signed.version)
    snapshot.version += 1
    snapshot.expires = now + dt.timedelta(days=7)
    new = Metadata(snapshot)
    trustlist.sign(new, online)
    data = trustlist.to_bytes(new)
    (meta / f"{snapshot.version}.snapshot.json").write_bytes(data)
    stamp = Metadata(
        Timestamp(
            version=ts.version + 1,
            expires=now + dt.timedelta(days=1),
            snapshot_meta=MetaFile(
                snapshot.version, len(data), {"sha256": hashlib.sha256(data).hexdigest()}
            ),
        )
    )
    trustlist.sign(stamp, online)
    (meta / "timestamp.json").write_bytes(trustlist.to_bytes(stamp))


def current_role(folder: Path, name: str) -> Metadata[Any]:
    """The latest published version of a role: targets, a group of schools, a school's."""
    meta = folder / "metadata"
    versions = sorted(int(p.name.split(".")[0]) for p in meta.glob(f"*.{name}.json"))
    return Metadata.from_bytes((meta / f"{versions[-1]}.{name}.json").read_bytes())


def current_targets(folder: Path) -> Metadata[Any]:
    return current_role(folder, "targets")


def without_school(
    folder: Path, sid: str, signers: list[ec.EllipticCurvePrivateKey]
) -> dict[str, Metadata[Any]]:
    """The list of schools and the school's group, re-signed by ``signers`` without ``sid``:
    what a holder of the offline keys could publish, for :func:`forge`."""
    name = trustlist.group_of(sid)
    group = current_role(folder, name)
    del group.signed.targets[trustlist.school_path(sid)]
    del group.signed.delegations.roles[sid]
    targets = current_targets(folder)
    roles = targets.signed.delegations.roles
    gone = {trustlist.school_path(sid), trustlist.keys_pattern(sid)}
    roles[name].paths = [p for p in roles[name].paths if p not in gone]
    if not roles[name].paths:
        del roles[name]
    for md in (targets, group):
        md.signed.version += 1
        md.signatures.clear()
        for key in signers:
            trustlist.sign(md, key)
    return {"targets": targets, name: group}


def test_read_over_http_from_the_pinned_root(
    federation: Federation, tmp_path: Path, httpserver: HTTPServer
) -> None:
    folder = publish(federation, tmp_path / "site")
    for path in folder.rglob("*"):
        if path.is_file():
            rel = path.relative_to(tmp_path / "site").as_posix()
            httpserver.expect_request(f"/{rel}").respond_with_data(path.read_bytes())
    root = (folder / metadata_path("root", 1)).read_bytes()
    reader = TrustListClient(published_fetcher(httpserver.url_for("/"), "trust"), root)
    tl = reader.refresh(LATER)
    assert sorted(tl.schools) == ["NKUST", "NTCU", "NTHU"]
    assert tl.schools["NKUST"].profile.status_list_url == "https://verify.nkust.edu.tw/status/"
    assert tl.log is not None and tl.log["size"] == len(logged_events(folder, federation))
    # A second refresh fetches no unchanged school role or snapshot again.
    served = len(httpserver.log)
    reader.refresh(LATER)
    asked = [req.path for req, _ in httpserver.log[served:]]
    assert asked == [
        "/trust/metadata/2.root.json",  # absent: no root rotation
        "/trust/metadata/timestamp.json",
        "/trust/metadata/4.targets.json",
    ]


def test_a_list_signed_by_fewer_than_the_threshold_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    folder = publish(federation, tmp_path / "site")
    # One of the two offline keys needed.
    forge(folder, federation.online, LATER, without_school(folder, "NTCU", federation.roots[:1]))
    with pytest.raises(SignatureVerificationError, match="signed by 1/2 keys"):
        client(folder, federation).refresh(LATER)


def test_a_removed_school_is_detected_by_comparing_with_the_log(
    federation: Federation, tmp_path: Path
) -> None:
    """Even with the threshold of offline keys, dropping a school leaves the log disagreeing."""
    folder = publish(federation, tmp_path / "site")
    forge(folder, federation.online, LATER, without_school(folder, "NTCU", federation.roots[:2]))
    tl = client(folder, federation).refresh(LATER)
    assert "NTCU" not in tl.schools
    found = compare_with_log(tl, logged_events(folder, federation))
    assert [(d.code, d.school) for d in found] == [("school_removed", "NTCU")]


def test_a_silently_replaced_school_key_is_detected(federation: Federation, tmp_path: Path) -> None:
    """The school's own key signs a history with another signing certificate, published by a
    host with the online key but without the operator (so without a log event)."""
    folder = publish(federation, tmp_path / "site")
    reader = client(folder, federation)
    before = reader.refresh(LATER).schools["NTHU"]
    assert compare_with_log(reader.current, logged_events(folder, federation)) == ()  # type: ignore[arg-type]
    signing = next(k for k in before.keys if k.role == "signing")
    impostor = ec.generate_private_key(ec.SECP256R1()).public_key()
    swapped = KeyRecord(
        hashlib.sha256(b"another certificate").hexdigest(), 500, "signing",
        pki.spki_der(impostor), signing.valid_from, signing.valid_to,
    )  # fmt: skip
    keys = [swapped if k is signing else k for k in before.keys]
    role = trustlist.school_role(
        "NTHU", keys, before.role_version + 1, LATER + dt.timedelta(days=9)
    )
    trustlist.sign(role, federation.status_key("NTHU"))
    forge(folder, federation.online, LATER + dt.timedelta(hours=1), {"NTHU": role})
    tl = reader.refresh(LATER + dt.timedelta(hours=1))
    assert swapped in tl.schools["NTHU"].keys
    codes = sorted(d.code for d in compare_with_log(tl, logged_events(folder, federation)))
    assert codes == ["key_not_logged", "key_removed"]


def test_a_rolled_back_trust_list_is_refused(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    old_timestamp = (folder / "metadata" / "timestamp.json").read_bytes()
    reader = client(folder, federation)
    reader.refresh(LATER)
    rotate(federation, "NTHU", LATER + dt.timedelta(hours=1))
    publish(federation, tmp_path / "site")
    assert reader.refresh(LATER + dt.timedelta(hours=1)).schools["NTHU"].role_version == 2
    (folder / "metadata" / "timestamp.json").write_bytes(old_timestamp)
    with pytest.raises(RollbackError, match="older than one already seen"):
        reader.refresh(LATER + dt.timedelta(hours=2))


def test_an_expired_trust_list_is_refused(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    with pytest.raises(ExpiredError, match="timestamp has expired") as e:
        client(folder, federation).refresh(LATER + dt.timedelta(days=2))
    assert "已過期" in e.value.zh
    with federation.operator() as op:
        op.refresh(now=LATER + dt.timedelta(days=2), online=federation.online)
    publish(federation, tmp_path / "site")
    client(folder, federation).refresh(LATER + dt.timedelta(days=2))


def test_the_key_valid_at_issuance(federation: Federation, tmp_path: Path) -> None:
    """Rotation ends the old key; a compromise taints every signature after it."""
    rotated_at = LATER + dt.timedelta(days=1)
    new = rotate(federation, "NTHU", rotated_at)
    compromised_at = LATER + dt.timedelta(days=2)
    rotate(federation, "NTCU", compromised_at, revoked_at=compromised_at, reason="key_compromise")
    folder = publish(federation, tmp_path / "site")
    tl = client(folder, federation).refresh(compromised_at)
    nthu = tl.schools["NTHU"]
    old = next(k for k in nthu.keys if k.role == "signing" and k != new)

    def check(at: dt.datetime, key: KeyRecord, school: str | None = None) -> str:
        return tl.check_key(at, "signing", cert_sha256=key.cert_sha256, school_id=school).outcome

    assert check(rotated_at - dt.timedelta(hours=1), old) == "valid"
    assert check(rotated_at + dt.timedelta(hours=1), old) == "key_not_valid_at_issuance"
    assert check(rotated_at + dt.timedelta(hours=1), new) == "valid"
    assert check(rotated_at - dt.timedelta(hours=1), new) == "key_not_valid_at_issuance"
    assert check(rotated_at - dt.timedelta(hours=1), old, "NTCU") == "key_of_another_school"
    bad = next(k for k in tl.schools["NTCU"].keys if k.reason == "key_compromise")
    assert check(compromised_at + dt.timedelta(minutes=1), bad) == "key_compromised_before_issuance"
    before = tl.check_key(
        compromised_at - dt.timedelta(days=1), "signing", cert_sha256=bad.cert_sha256
    )
    assert before.outcome == "valid_if_logged" and before.ok
    assert "外洩" in before.message("zh-TW")
    status = next(k for k in nthu.keys if k.role == "statuslist")
    by_spki = tl.check_key(LATER, "statuslist", spki_sha256=status.spki_sha256, school_id="NTHU")
    assert by_spki.outcome == "valid"
    assert tl.check_key(LATER, "signing", cert_sha256="0" * 64).outcome == "unknown_key"
    assert check(rotated_at - dt.timedelta(hours=1), status) == "wrong_key_role"
