"""The federation operator's home and operations: admit, suspend, merge, close, rotate, publish.

Home layout::

    config.json     origin of the log, the root keys' names and threshold, expiry periods
    keys/           root-1..n (offline: root and targets) and online (snapshot, timestamp, log)
    repo/           the published tree, exactly as copied out: metadata/, targets/, log/
    log/            the log's leaves (one canonical JSON line each)
    state.json      the commit point: current version of every role and the log's size
    lock            held while an operation runs

Every operation writes its new files first (versioned names, never an old version's), checks
the result with the same client a verifier runs (:class:`certseal.trustlist.TrustListClient`),
and only then moves ``timestamp.json`` and ``state.json``: an interrupted operation leaves the
last published trust list in force. Time is passed in.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric import ec
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    Targets,
    Timestamp,
)

from certseal import pki, trustlist
from certseal.errors import (
    AuthorityBusyError,
    CertsealError,
    ConfigurationError,
    InputError,
    SignatureVerificationError,
    StateError,
)
from certseal.eventlog import LOG_DIR, checkpoint_path
from certseal.fetch import published_fetcher
from certseal.files import publish_tree, set_aside, take_lock, write_file, write_once
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import (
    LOG_FIELD,
    KeyRecord,
    OnboardingRequest,
    SchoolEntry,
    SchoolProfile,
    StateChange,
    TrustEvent,
    TrustList,
    TrustListClient,
    VerifiedRequest,
    cast_targets,
    check_key_history,
    events_for,
    group_of,
    key_path,
    list_of_schools,
    metadata_path,
    parse_metadata,
    profile_target,
    put_school,
    role_keys,
    school_path,
    tuf_key,
)
from federation import keys as opkeys
from federation.log import TrustLog

DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
RENEW_ROOT_WITHIN = dt.timedelta(days=60)
"""How long before the root expires the operator's commands start saying to renew it."""
CONFIRM_COMMAND = "certseal federation admit REQUEST --confirm-key SHA256 --key … --key …"
"""Re-admitting a school out of band: the school reads its new certificate's SHA-256."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class KeyNotVouchedError(SignatureVerificationError):
    """A listed school's new role version not signed by the key the trust list holds for it."""


class CompromisedVoucherError(KeyNotVouchedError):
    """The key the trust list holds for a school is recorded compromised: it vouches for
    nothing, so the school's new key is taken only out of band."""


_MUTABLE = (
    metadata_path("timestamp"),
    f"{LOG_DIR}/{checkpoint_path()}",
    f"{LOG_DIR}/checkpoints.json",
)
JOURNAL = "commit.json"
"""In the home while a change is being written: the committed state and the repository's files
before it, so a run killed before its commit point is undone at the next open."""
INTERRUPTED = "interrupted"
"""Where what an interrupted command wrote is kept: ``interrupted/commit-<n>``, ``init-<n>``."""
_ROOT_FILE = re.compile(r"metadata/[0-9]+\.root\.json")
_INIT_FILES = ("keys", "repo", "log", "config.json", JOURNAL)


def _repo_files(repo: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), repo)
        for folder, _dirs, names in os.walk(repo)
        for name in names
    )


def _take_lock(home: Path) -> IO[bytes]:
    """Hold the home's lock (one command at a time), or say plainly that another one does."""
    return take_lock(
        home / "lock",
        AuthorityBusyError(
            "another certseal command is using this operator's home; try again after it",
            "另一個 certseal 指令正在使用此營運者目錄，請稍後再試",
        ),
    )


@dataclass(frozen=True)
class OperatorState:
    """The committed versions: what ``timestamp.json`` points to, and the log's size."""

    root: int
    targets: int
    snapshot: int
    timestamp: int
    roles: dict[str, int]
    log_size: int
    time: str = ""  # when it was committed: the operator reads its own list as of then
    groups: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperatorState:
        return cls(
            d["root"],
            d["targets"],
            d["snapshot"],
            d["timestamp"],
            dict(d["roles"]),
            d["log_size"],
            d["time"],
            dict(d.get("groups", {})),
        )


def init_operator(
    home: Path,
    origin: str,
    passphrase: str,
    now: dt.datetime,
    *,
    root_keys: int = 3,
    threshold: int = 2,
) -> list[str]:
    """Create the operator's home: keys, root v1 (signed by every root key), an empty list.

    Args:
        origin: the log's origin line, e.g. ``trust.example.edu.tw/trust/log``.

    Returns:
        the names of the root keys.
    """
    if not 1 <= threshold <= root_keys:
        raise InputError(
            f"a threshold of {threshold} of {root_keys} root keys is not possible",
            f"{root_keys} 把根金鑰無法設定門檻 {threshold}",
        )
    if not origin or any(c.isspace() for c in origin) or "+" in origin:
        raise InputError(
            f"the log origin {origin!r} must be one word without spaces or '+'",
            f"紀錄來源名稱 {origin!r} 不可含空白或 '+'",
        )
    opkeys.check_passphrase(passphrase)
    names = opkeys.root_key_names(root_keys)
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    lock = _take_lock(home)
    try:
        return _init_locked(home, origin, passphrase, now, names, threshold, lock)
    finally:
        lock.close()


def _init_locked(
    home: Path,
    origin: str,
    passphrase: str,
    now: dt.datetime,
    names: list[str],
    threshold: int,
    lock: IO[bytes],
) -> list[str]:
    # The first state.json is init's last write: without it, what is here is an init that was
    # killed before it finished; nothing was ever published from it, and it is set aside.
    if (home / "state.json").exists():
        raise ConfigurationError(
            f"a federation operator is already set up in {home}", f"{home} 已設定過聯盟營運者"
        )
    set_aside(home, _INIT_FILES, home / INTERRUPTED / "init")
    (home / "keys").mkdir()
    private = {n: opkeys.write_new_key(home / "keys", n, passphrase) for n in names}
    online = opkeys.write_new_key(home / "keys", opkeys.ONLINE, passphrase)
    root = Root(expires=now + dt.timedelta(days=DAYS["root"]), consistent_snapshot=True)
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.roles[role].keyids.clear()
    for key in private.values():
        for role in ("root", "targets"):
            root.add_key(tuf_key(key.public_key()), role)
    for role in ("snapshot", "timestamp"):
        root.add_key(tuf_key(online.public_key()), role)
    root.roles["root"].threshold = threshold
    root.roles["targets"].threshold = threshold
    root_md = Metadata(root)
    for key in private.values():
        trustlist.sign(root_md, key)
    repo = home / "repo"
    write_once(repo / metadata_path("root", 1), trustlist.to_bytes(root_md))
    targets = Metadata(
        list_of_schools(
            [tuf_key(k.public_key()) for k in private.values()],
            threshold,
            {},
            1,
            now + dt.timedelta(days=DAYS["targets"]),
        )
    )
    for key in list(private.values())[:threshold]:
        trustlist.sign(targets, key)
    write_once(repo / metadata_path("targets", 1), trustlist.to_bytes(targets))
    state = OperatorState(1, 1, 0, 0, {}, 0)
    config = {"origin": origin, "root_keys": names, "threshold": threshold}
    write_file(home / "config.json", json.dumps(config, indent=2).encode())
    with Operator(home, lock=lock) as op:
        op._publish_snapshot(state, online, now, log=None)
    return names


class Operator:
    """The operator's operations. Use as a context manager: it holds the home's lock."""

    def __init__(self, home: Path, *, lock: IO[bytes] | None = None) -> None:
        """Open the home, taking its lock (``lock``: init's, already held), and undo or finish
        a change a killed command left half-written (:meth:`_recover`)."""
        if not (home / "config.json").exists() or (
            lock is None and not (home / "state.json").exists()
        ):
            raise ConfigurationError(
                f"no federation operator is set up in {home} (or its init was interrupted): "
                "run 'certseal federation init'",
                f"{home} 尚未設定聯盟營運者（或設定中斷）：請執行 certseal federation init",
            )
        self.home = home
        self.repo = home / "repo"
        self._lock: IO[bytes] | None = lock or _take_lock(home)
        config = json.loads((home / "config.json").read_text("utf-8"))
        self.origin: str = config["origin"]
        self.root_key_names: list[str] = config["root_keys"]
        self.threshold: int = config["threshold"]
        self.log = TrustLog(home / "log", self.repo / LOG_DIR)
        if lock is None:
            self._recover()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Operator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading the committed state --------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    def state(self) -> OperatorState:
        path = self.home / "state.json"
        try:
            return OperatorState.from_dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigurationError(
                f"the operator's state {path} is missing or damaged: {e}",
                f"營運者狀態檔 {path} 遺失或損壞",
            ) from None

    def _metadata(self, role: str, version: int) -> Metadata[Any]:
        data = (self.repo / metadata_path(role, version)).read_bytes()
        return parse_metadata(data, role)

    def trust_list(self, now: dt.datetime) -> TrustList:
        """The committed trust list, read back and checked as a relying party would, as of
        its commit: the operator is about to re-sign what may have expired since."""
        state = self.state()
        if now < parse_time(state.time, "the last commit's time"):
            raise InputError(
                f"the time given ({format_time(now)}) is before the last change ({state.time}): "
                "check the clock",
                f"指定時間 {format_time(now)} 早於上次變更（{state.time}），請檢查時鐘",
            )
        return self._client(self.repo).refresh(parse_time(state.time))

    def _client(self, repo: Path, timestamp: bytes | None = None) -> TrustListClient:
        base = published_fetcher(str(repo), ".")

        def fetch(path: str, limit: int) -> bytes:
            if timestamp is not None and path == metadata_path("timestamp"):
                return timestamp
            return base(path, limit)

        return TrustListClient(fetch, (repo / metadata_path("root", 1)).read_bytes())

    def events(self) -> list[TrustEvent]:
        return self.log.events(self.state().log_size)

    def signers(
        self, names: Sequence[str], passphrase: dict[str, str]
    ) -> list[ec.EllipticCurvePrivateKey]:
        """Unlock the named root keys (each with its own passphrase)."""
        return [opkeys.load_key(self.keys_dir, n, passphrase[n]) for n in names]

    def online_key(self, passphrase: str) -> ec.EllipticCurvePrivateKey:
        return opkeys.load_key(self.keys_dir, opkeys.ONLINE, passphrase)

    # --- operations -------------------------------------------------------------------------

    def accept_request(
        self,
        request: bytes,
        *,
        now: dt.datetime,
        signers: Sequence[ec.EllipticCurvePrivateKey],
        online: ec.EllipticCurvePrivateKey,
        confirm_key: str | None = None,
    ) -> SchoolEntry:
        """Admit a school from its signed onboarding request, or, for a school already listed,
        take its new status-list key (the key its role is delegated to) and key history.

        A listed school's new version must be signed by the key the trust list holds for it
        as well as by its new key (:func:`_check_vouched`). ``confirm_key`` is the SHA-256 of
        the new status-list certificate, as the school read it to the operator out of band:
        given, it replaces the held key's signature (a school whose earlier key was
        compromised or lost is re-admitted that way) and must match the request.

        Raises:
            SignatureVerificationError: the request's signatures or certificates do not verify.
            KeyNotVouchedError: the key the trust list holds did not sign the new version.
            CompromisedVoucherError: that key is recorded compromised, so it cannot.
            DeserializationError: the request is malformed.
            InputError: the request breaks a rule (history rewritten, bad profile, a
                confirmed key that is not the request's, ...).
        """
        verified = OnboardingRequest.from_bytes(request).verify()
        sid = verified.school_id
        _check_new_key(verified, now, confirm_key)
        current = self.trust_list(now)
        old = current.school(sid)
        if old is None:
            fields = {k: verified.school.get(k) for k in ("id", "name_zh", "name_en", "domains")}
            fields.update(
                status_list_url=verified.school.get("status_list_url"),
                log_url=verified.school.get("log_url"),
                lifecycle=[StateChange("active", now).to_dict()],
                predecessors=[],
            )
            profile = _profile(fields)
        else:
            if old.profile.current.state in ("merged", "closed"):
                raise StateError(
                    f"school {sid} is {old.profile.current.state}: it takes no new keys",
                    f"學校 {sid} 已{_STATE_ZH[old.profile.current.state]}，不再接受新金鑰",
                )
            _check_history(old.keys, verified.keys)
            if verified.role.signed.version <= old.role_version:
                raise InputError(
                    f"school {sid}'s key history must be a version after {old.role_version}",
                    f"學校 {sid} 的金鑰紀錄版本須大於 {old.role_version}",
                )
            if confirm_key is None:
                _check_vouched(self._group(group_of(sid)).signed, old, verified)
            profile = old.profile
        _check_expiry(verified.role.signed.expires, now, sid)
        group = self._group(group_of(sid))
        put_school(group.signed, profile, tuf_key(verified.status_key))
        files = {key_path(sid, hashlib.sha256(der).hexdigest()): der for der in _ders(request)}
        entry = SchoolEntry(
            profile, verified.keys, verified.role.signed.version, (pki.key_id(verified.status_key),)
        )
        self._commit(
            now,
            online,
            groups=({group_of(sid): group}, signers),
            roles={sid: trustlist.to_bytes(verified.role)},
            files=files,
            events=events_for(old, entry, now),
        )
        return entry

    def update_role(
        self, school_id: str, role: bytes, *, now: dt.datetime, online: ec.EllipticCurvePrivateKey
    ) -> SchoolEntry:
        """Publish a school's new key history, signed by the school alone (no offline key).

        Raises:
            SignatureVerificationError: not signed by the key the school's role is delegated to.
            InputError: the history is rewritten, or the version does not move forward.
        """
        state = self.state()
        current = self.trust_list(now)
        old = current.school(school_id)
        if old is None:
            raise InputError(
                f"school {school_id} is not in the trust list", f"信任清單中沒有 {school_id}"
            )
        md = cast_targets(parse_metadata(role, f"{school_id}'s key history"))
        group = self._group(group_of(school_id), state).signed
        try:
            group.verify_delegate(school_id, md.signed_bytes, md.signatures)
        except (tuf_errors.UnsignedMetadataError, ValueError) as e:
            raise SignatureVerificationError(
                f"school {school_id}'s key history is not signed by its delegated key: {e}",
                f"學校 {school_id} 的金鑰紀錄並非以受委派的金鑰簽署",
            ) from e
        if md.signed.version != old.role_version + 1:
            raise InputError(
                f"school {school_id}'s key history must be version {old.role_version + 1}",
                f"學校 {school_id} 的金鑰紀錄版本須為 {old.role_version + 1}",
            )
        _check_expiry(md.signed.expires, now, school_id)
        keys = role_keys(md, school_id)
        _check_history(old.keys, keys)
        entry = dataclasses.replace(old, keys=keys, role_version=md.signed.version)
        self._commit(now, online, roles={school_id: role}, events=events_for(old, entry, now))
        return entry

    def set_state(
        self,
        school_id: str,
        state: str,
        *,
        at: dt.datetime,
        now: dt.datetime,
        signers: Sequence[ec.EllipticCurvePrivateKey],
        online: ec.EllipticCurvePrivateKey,
        successor: str | None = None,
    ) -> SchoolProfile:
        """Suspend, reinstate (``active``), merge into ``successor``, or close a school.

        A merge also names the school among the successor's predecessors. Documents issued
        while the school was active stay valid; the list keeps the school and its keys.
        """
        if at > now:
            raise InputError(
                "a state change cannot be dated in the future", "狀態變更日期不可晚於現在"
            )
        current = self.trust_list(now)
        old = current.school(school_id)
        if old is None:
            raise InputError(
                f"school {school_id} is not in the trust list", f"信任清單中沒有 {school_id}"
            )
        if old.profile.current.state == state:
            raise InputError(
                f"school {school_id} is already {state}: nothing to change",
                f"{school_id} 目前已是{_STATE_NOW_ZH.get(state, state)}狀態，無需變更",
            )
        changed = {
            school_id: _with(old.profile, lambda p: p.with_state(StateChange(state, at, successor)))
        }
        if successor is not None:
            heir = current.school(successor)
            if heir is None or heir.profile.current.state != "active":
                raise InputError(
                    f"the successor {successor} must be an active school of the trust list",
                    f"承接學校 {successor} 須為信任清單中仍在運作的學校",
                )
            if state == "merged":
                changed[successor] = _with(heir.profile, lambda p: p.with_predecessor(school_id))
        events = []
        groups: dict[str, Metadata[Targets]] = {}
        for sid, profile in changed.items():
            name = group_of(sid)
            group = groups.setdefault(name, self._group(name))
            group.signed.targets[school_path(sid)] = profile_target(profile)
            entry = current.schools[sid]
            events += events_for(entry, dataclasses.replace(entry, profile=profile), now)
        self._commit(now, online, groups=(groups, signers), events=events)
        return changed[school_id]

    def refresh(
        self,
        *,
        now: dt.datetime,
        online: ec.EllipticCurvePrivateKey,
        signers: Sequence[ec.EllipticCurvePrivateKey] = (),
    ) -> OperatorState:
        """Re-sign snapshot and timestamp (and, given the offline keys, targets and every group
        of schools) before they expire: a client refuses an expired trust list, so this runs on
        a schedule."""
        if not signers:
            return self._commit(now, online)
        state = self.state()
        groups = {name: self._group(name, state) for name in state.groups}
        return self._commit(now, online, groups=(groups, signers), every_group=True)

    def renew_root(
        self,
        *,
        now: dt.datetime,
        signers: Sequence[ec.EllipticCurvePrivateKey],
        online: ec.EllipticCurvePrivateKey,
    ) -> Root:
        """Sign root version N+1: the same keys and thresholds, a new expiry.

        Without it every client refuses the list once the root expires (``DAYS["root"]``
        after the last one). TUF's client accepts a new root signed by a threshold of the old
        root's keys and of its own: here both are the same keys, so the threshold of them signs.
        The signatures are checked before anything is written; the new root is logged (a
        ``root`` event) and committed like every other change.

        Raises:
            InputError: fewer than the root threshold of root keys, or a key not the root's.
        """
        state = self.state()
        self.trust_list(now)  # the committed list still verifies, and time moves forward
        old = self._metadata("root", state.root)
        signed = copy.deepcopy(old.signed)
        signed.version = state.root + 1
        signed.expires = now + dt.timedelta(days=DAYS["root"])
        _check_signers(
            old.signed, signers, old.signed.roles["root"].threshold, self.root_key_names, "root"
        )
        new = Metadata(signed)
        for key in signers:
            trustlist.sign(new, key)
        for trusted in (old.signed, signed):
            try:
                trusted.verify_delegate("root", new.signed_bytes, new.signatures)
            except (tuf_errors.UnsignedMetadataError, ValueError) as e:
                raise InputError(
                    f"root version {signed.version} is not signed by the root threshold: {e}",
                    f"根中繼資料第 {signed.version} 版的簽章未達根金鑰門檻",
                ) from e
        data = self._new_root(signed.version, trustlist.to_bytes(new))
        event = TrustEvent(
            0, "root", "", now, hashlib.sha256(data).hexdigest(), version=signed.version
        )
        self._commit(now, online, events=[event], root_version=signed.version)
        renewed: Root = parse_metadata(data, "root").signed
        return renewed

    def _new_root(self, version: int, data: bytes) -> bytes:
        """Write root ``version``, or take the one an interrupted renewal already wrote: a
        published root is never rewritten, and it is as good as ours if the threshold of the
        committed root's keys signed it (clients have already seen it)."""
        path = self.repo / metadata_path("root", version)
        if not path.exists():
            write_once(path, data)
            return data
        kept = path.read_bytes()
        old = self._metadata("root", version - 1).signed
        try:
            md = parse_metadata(kept, "root")
            old.verify_delegate("root", md.signed_bytes, md.signatures)
        except (CertsealError, tuf_errors.UnsignedMetadataError, ValueError) as e:
            raise ConfigurationError(
                f"{path} exists but is not a root this federation signed: {e}",
                f"{path} 已存在，但不是本聯盟簽署的根中繼資料",
            ) from e
        return kept

    def root_expires(self) -> dt.datetime:
        """When the committed root expires: every client refuses the list from then on."""
        expires: dt.datetime = self._metadata("root", self.state().root).signed.expires
        return expires

    def _begin(self, state: OperatorState, now: dt.datetime) -> None:
        """Note, before a change writes anything, the committed state and every file of the
        repository, with the bytes of the ones a change rewrites in place."""
        journal = {
            "started": format_time(now),
            "state": state.to_dict(),
            "files": _repo_files(self.repo),
            "mutable": {
                rel: base64.b64encode((self.repo / rel).read_bytes()).decode()
                for rel in _MUTABLE
                if (self.repo / rel).exists()
            },
        }
        write_file(self.home / JOURNAL, json.dumps(journal).encode())

    def _recover(self) -> None:
        """After a command killed mid-change (its journal is still here): before the commit
        point (``state.json`` unchanged), every file the change added to the repository is set
        aside in ``interrupted/commit-<n>`` and the rewritten ones are put back, so neither
        ``publish`` nor the next change meets a half-made version (the re-run signs its own
        log leaves, tiles and versions afresh); past it, ``timestamp.json`` is brought to the
        committed version."""
        path = self.home / JOURNAL
        if not path.exists():
            return
        try:
            journal = json.loads(path.read_bytes())
            before = OperatorState.from_dict(journal["state"])
            kept = set(journal["files"])
            mutable = {rel: base64.b64decode(d) for rel, d in journal["mutable"].items()}
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigurationError(
                f"the journal of an interrupted change {path} is damaged: {e}",
                f"中斷變更的紀錄檔 {path} 已損壞",
            ) from None
        state = self.state()
        added = [
            rel
            for rel in _repo_files(self.repo)
            if rel not in kept and not _ROOT_FILE.fullmatch(rel)  # see _new_root
        ]
        if state == before:
            folder = set_aside(self.repo, added, self.home / INTERRUPTED / "commit")
            for rel, data in mutable.items():
                if (self.repo / rel).read_bytes() != data:
                    write_file(self.repo / rel, data)
            if folder is not None:
                os.replace(path, folder / JOURNAL)
                return
        else:
            current = (self.repo / metadata_path("timestamp", state.timestamp)).read_bytes()
            write_file(self.repo / metadata_path("timestamp"), current)
            # Only a write cut short (its temporary file) is left over past the commit point.
            partial = [rel for rel in added if os.path.basename(rel).startswith(".")]
            set_aside(self.repo, partial, self.home / INTERRUPTED / "commit")
        path.unlink()

    def publish(self, out_dir: Path) -> int:
        """Copy the trust list into ``out_dir/trust``: files it lacks, then the mutable ones,
        ``timestamp.json`` last. Returns how many files were written."""
        return publish_tree(self.repo, out_dir / trustlist.TRUST_DIR, _MUTABLE[1:] + _MUTABLE[:1])

    # --- the one commit path ----------------------------------------------------------------

    def _group(self, name: str, state: OperatorState | None = None) -> Metadata[Targets]:
        """A group of schools as last committed, or a new empty one (its version and expiry
        are set when it is signed)."""
        version = (state or self.state()).groups.get(name)
        if version is None:
            return Metadata(Targets(expires=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        return cast_targets(self._metadata(name, version))

    def _commit(
        self,
        now: dt.datetime,
        online: ec.EllipticCurvePrivateKey,
        *,
        groups: tuple[dict[str, Metadata[Targets]], Sequence[ec.EllipticCurvePrivateKey]]
        | None = None,
        roles: dict[str, bytes] | None = None,
        files: dict[str, bytes] | None = None,
        events: Sequence[TrustEvent] = (),
        every_group: bool = False,
        root_version: int | None = None,
    ) -> OperatorState:
        """Write what changed, then snapshot and timestamp. Changed groups of schools are
        re-signed with ``signers`` (offline keys), and so is ``targets`` when the schools it
        gives a group change, or with ``every_group`` (``refresh --targets``: before expiry).
        ``root_version``: a new root, already written, that this commit makes current."""
        state = self.state()
        self.trust_list(now)  # the committed list still verifies, and time moves forward
        if root_version is not None:
            state = dataclasses.replace(state, root=root_version)
        root_md = self._metadata("root", state.root)
        if root_md.signed.expires <= now:
            raise StateError(
                f"the federation's root expired at {format_time(root_md.signed.expires)}: every "
                "verifier refuses the list; run 'certseal federation renew-root' first",
                f"聯盟根中繼資料已於 {format_time(root_md.signed.expires)} 過期，所有驗證端都會"
                "拒絕信任清單：請先執行 certseal federation renew-root",
            )
        root = root_md.signed
        if not any(
            k.keyid == tuf_key(online.public_key()).keyid for k in _role_keys(root, "timestamp")
        ):
            raise InputError("the online key is not this federation's", "線上金鑰不屬於此聯盟")
        self._begin(state, now)
        new_roles = dict(state.roles)
        new_groups = dict(state.groups)
        targets_version = state.targets
        if groups is not None:
            changed, signers = groups
            _check_signers(root, signers, self.threshold, self.root_key_names)
            members = {n: _members(self._group(n, state)) for n in state.groups}
            before = dict(members)
            for name, md in sorted(changed.items()):
                md.signed.version = new_groups[name] = state.groups.get(name, 0) + 1
                _sign_offline(md, signers, now)
                write_file(
                    self.repo / metadata_path(name, md.signed.version), trustlist.to_bytes(md)
                )
                members[name] = _members(md)
            if members != before or every_group:
                targets_version = state.targets + 1
                targets = Metadata(
                    list_of_schools(
                        _role_keys(root, "targets"),
                        root.roles["targets"].threshold,
                        members,
                        targets_version,
                        now + dt.timedelta(days=DAYS["targets"]),
                    )
                )
                _sign_offline(targets, signers, now)
                write_file(
                    self.repo / metadata_path("targets", targets_version),
                    trustlist.to_bytes(targets),
                )
        for rel, data in (files or {}).items():
            write_once(self.repo / trustlist.TARGETS_DIR / rel, data)
        for sid, data in (roles or {}).items():
            version = cast_targets(parse_metadata(data, sid)).signed.version
            write_file(self.repo / metadata_path(sid, version), data)
            new_roles[sid] = version
        log = None
        log_size = state.log_size
        if events:
            numbered = [dataclasses.replace(ev, index=log_size + i) for i, ev in enumerate(events)]
            cp = self.log.append(log_size, numbered, origin=self.origin, now=now, key=online)
            log, log_size = cp, cp.size
        new = dataclasses.replace(
            state, targets=targets_version, roles=new_roles, log_size=log_size, groups=new_groups
        )
        return self._publish_snapshot(new, online, now, log=log)

    def _publish_snapshot(
        self,
        state: OperatorState,
        online: ec.EllipticCurvePrivateKey,
        now: dt.datetime,
        *,
        log: Any,
    ) -> OperatorState:
        """Sign snapshot and timestamp over ``state``, check the result, then commit it."""
        previous = self._snapshot_log_field(state)
        meta = {"targets.json": MetaFile(state.targets)}
        meta.update({f"{name}.json": MetaFile(v) for name, v in sorted(state.groups.items())})
        meta.update({f"{sid}.json": MetaFile(v) for sid, v in sorted(state.roles.items())})
        snapshot = Snapshot(
            version=state.snapshot + 1,
            expires=now + dt.timedelta(days=DAYS["snapshot"]),
            meta=meta,
        )
        field = (
            previous
            if log is None
            else {
                "origin": log.origin,
                "size": log.size,
                "root": base64.b64encode(log.root_hash).decode(),
                "checkpoint": f"{LOG_DIR}/{checkpoint_path(log.size)}",
                "time": format_time(now),
            }
        )
        if field is not None:
            snapshot.unrecognized_fields[LOG_FIELD] = field
        snapshot_md = Metadata(snapshot)
        trustlist.sign(snapshot_md, online)
        snapshot_bytes = trustlist.to_bytes(snapshot_md)
        write_file(self.repo / metadata_path("snapshot", snapshot.version), snapshot_bytes)
        timestamp = Timestamp(
            version=state.timestamp + 1,
            expires=now + dt.timedelta(days=DAYS["timestamp"]),
            snapshot_meta=MetaFile(
                snapshot.version,
                len(snapshot_bytes),
                {"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
            ),
        )
        timestamp_md = Metadata(timestamp)
        trustlist.sign(timestamp_md, online)
        timestamp_bytes = trustlist.to_bytes(timestamp_md)
        write_file(self.repo / metadata_path("timestamp", timestamp.version), timestamp_bytes)
        new = dataclasses.replace(
            state, snapshot=snapshot.version, timestamp=timestamp.version, time=format_time(now)
        )
        try:
            self._client(self.repo, timestamp_bytes).refresh(now)
        except CertsealError as e:
            raise ConfigurationError(
                f"the new trust list does not verify, nothing was published: {e.en}",
                f"新的信任清單驗證失敗，未公布：{e.zh}",
            ) from e
        # state.json is the commit point; timestamp.json follows it (:meth:`_recover`).
        write_file(self.home / "state.json", json.dumps(new.to_dict(), indent=2).encode())
        write_file(self.repo / metadata_path("timestamp"), timestamp_bytes)
        (self.home / JOURNAL).unlink(missing_ok=True)
        return new

    def _snapshot_log_field(self, state: OperatorState) -> Any:
        if state.snapshot == 0:
            return None
        return self._metadata("snapshot", state.snapshot).signed.unrecognized_fields.get(LOG_FIELD)


def root_notice(expires: dt.datetime, now: dt.datetime) -> tuple[str, str] | None:
    """What to tell the operator when the root expires within :data:`RENEW_ROOT_WITHIN`
    (English, Traditional Chinese); None when it does not."""
    left = expires - now
    if left > RENEW_ROOT_WITHIN:
        return None
    when = format_time(expires)
    if left <= dt.timedelta(0):
        return (
            f"the federation's root expired at {when}: every verifier refuses the trust list. "
            "Run 'certseal federation renew-root' with the root keys, then refresh and publish.",
            f"聯盟根中繼資料已於 {when} 過期，所有驗證端都會拒絕信任清單。請以根金鑰執行 "
            "certseal federation renew-root，再 refresh 並 publish。",
        )
    days = left.days
    return (
        f"the federation's root expires at {when} (in {days} days): after that every verifier "
        "refuses the trust list. Run 'certseal federation renew-root' with the root keys, then "
        "publish.",
        f"聯盟根中繼資料將於 {when} 過期（剩 {days} 天），屆時所有驗證端都會拒絕信任清單。"
        "請以根金鑰執行 certseal federation renew-root，再 publish。",
    )


_COMPROMISE = "key_compromise"
_STATE_ZH = {"active": "恢復運作", "suspended": "停權", "merged": "合併", "closed": "關閉"}
_STATE_NOW_ZH = {"active": "運作中", "suspended": "停權", "merged": "已合併", "closed": "已關閉"}


def _profile(fields: dict[str, Any]) -> SchoolProfile:
    try:
        return SchoolProfile.from_dict(fields)
    except CertsealError as e:
        raise InputError(e.en, e.zh) from e


def _with(profile: SchoolProfile, change: Any) -> SchoolProfile:
    try:
        result: SchoolProfile = change(profile)
    except ValueError as e:
        raise InputError(
            f"school {profile.school_id}: {e}", f"學校 {profile.school_id}：{e}"
        ) from e
    return result


def _check_history(old: Sequence[KeyRecord], new: Sequence[KeyRecord]) -> None:
    try:
        check_key_history(old, new)
    except ValueError as e:
        raise InputError(
            f"the new key history rewrites the published one: {e}",
            f"新的金鑰紀錄改寫了已公布的紀錄：{e}",
        ) from e


def _check_new_key(verified: VerifiedRequest, now: dt.datetime, confirm_key: str | None) -> None:
    """The key that signed the request is the school's current status-list key by its own
    history (not revoked, in its window now) and, when the operator confirmed a key out of
    band, that very one."""
    sid = verified.school_id
    record = next(k for k in verified.keys if k.spki_sha256 == pki.key_id(verified.status_key))
    if record.revoked_at is not None or not record.valid_from <= now < record.valid_to:
        raise InputError(
            f"school {sid}'s request is signed with status-list key {record.cert_sha256[:16]}…, "
            "which its own key history does not give as valid now: ask the school for a "
            "request from its current key",
            f"學校 {sid} 的申請以狀態清單金鑰 {record.cert_sha256[:16]}… 簽署，但該校金鑰紀錄"
            "顯示此金鑰目前無效：請學校以目前的金鑰重新產生申請",
        )
    if confirm_key is None:
        return
    wanted = confirm_key.strip().lower().replace(":", "")
    if not _SHA256_HEX.fullmatch(wanted):
        raise InputError(
            f"--confirm-key must be a certificate's SHA-256 (64 hexadecimal digits), not "
            f"{confirm_key!r}",
            f"--confirm-key 須為憑證的 SHA-256（64 個十六進位字元），而非 {confirm_key!r}",
        )
    if wanted != record.cert_sha256:
        raise InputError(
            f"the key you confirmed ({wanted[:16]}…) is not the status-list key this request "
            f"is signed with: the request may not come from school {sid}; do not admit it",
            f"您確認的金鑰（{wanted[:16]}…）不是此申請所用的狀態清單金鑰：此申請可能並非"
            f"來自學校 {sid}，請勿接納",
        )


def _check_vouched(group: Targets, old: SchoolEntry, verified: VerifiedRequest) -> None:
    """TUF's rule for a delegated role whose keys change: the new version is signed by the
    threshold of the keys of the version held (the delegation in the committed group) as
    well as by its new key (checked with the request). A signature by a key either history
    records compromised does not count: whoever stole it could otherwise vouch for a key
    of their own."""
    sid = old.school_id
    compromised = {k.spki_sha256 for k in (*old.keys, *verified.keys) if k.reason == _COMPROMISE}
    md = verified.role
    counted = {kid: sig for kid, sig in md.signatures.items() if kid not in compromised}
    try:
        group.verify_delegate(sid, md.signed_bytes, counted)
        return
    except (tuf_errors.UnsignedMetadataError, ValueError):
        pass
    held = [k for k in old.keys if k.spki_sha256 in old.delegation_keyids]
    names = ", ".join(f"{k.cert_sha256[:16]}…" for k in held) or "?"
    if any(k.spki_sha256 in compromised for k in held):
        raise CompromisedVoucherError(
            f"school {sid}'s status-list key that the trust list holds ({names}) is recorded "
            "compromised, so it cannot vouch for the new key. Ask the school for its new "
            "status-list certificate's SHA-256 by a channel you trust (in person, a call you "
            f"place, not the request's own channel), then re-admit it: '{CONFIRM_COMMAND}'",
            f"信任清單為學校 {sid} 所列的狀態清單金鑰（{names}）已記錄為外洩，無法為新金鑰背書。"
            "請以您信任的管道（當面、由您撥出的電話，而非送來申請的管道）向學校取得新狀態清單"
            f"憑證的 SHA-256，再重新接納該校：「{CONFIRM_COMMAND}」",
        )
    raise KeyNotVouchedError(
        f"school {sid}'s new key history is not signed by the status-list key the trust list "
        f"holds for it ({names}): a school that changes its status-list key signs the request "
        "with the earlier key too ('certseal authority export-request' does, from the keys "
        "it retired). If the school no longer has that key, ask it for its new status-list "
        "certificate's SHA-256 by a channel you trust (in person, a call you place), then "
        f"re-admit it: '{CONFIRM_COMMAND}'",
        f"學校 {sid} 的新金鑰紀錄未經信任清單為其所列的狀態清單金鑰（{names}）簽署：更換狀態"
        "清單金鑰的學校須同時以舊金鑰簽署申請（certseal authority export-request 會以其退役的"
        "金鑰簽署）。若學校已無該金鑰，請以您信任的管道（當面、由您撥出的電話）向學校取得新"
        f"狀態清單憑證的 SHA-256，再重新接納該校：「{CONFIRM_COMMAND}」",
    )


def _check_expiry(expires: dt.datetime, now: dt.datetime, sid: str) -> None:
    if expires <= now:
        raise InputError(
            f"school {sid}'s key history has already expired", f"學校 {sid} 的金鑰紀錄已過期"
        )


def _role_keys(root: Root, role: str) -> list[Any]:
    return [root.keys[k] for k in root.roles[role].keyids]


def _members(group: Metadata[Targets]) -> list[str]:
    delegations = group.signed.delegations
    return sorted(delegations.roles or {}) if delegations is not None else []


def _sign_offline(
    md: Metadata[Targets], signers: Sequence[ec.EllipticCurvePrivateKey], now: dt.datetime
) -> None:
    """Sign the list of schools or one of its groups anew, with the offline keys."""
    md.signed.expires = now + dt.timedelta(days=DAYS["targets"])
    md.signatures.clear()
    for key in signers:
        trustlist.sign(md, key)


def _check_signers(
    root: Root,
    signers: Sequence[ec.EllipticCurvePrivateKey],
    threshold: int,
    names: list[str],
    role: str = "targets",
) -> None:
    allowed = set(root.roles[role].keyids)
    distinct = {tuf_key(k.public_key()).keyid for k in signers}
    if not distinct <= allowed:
        raise InputError(
            "a signing key is not one of the federation's root keys", "簽署金鑰不是聯盟的根金鑰"
        )
    if len(distinct) < threshold:
        raise InputError(
            f"changing the trust list needs {threshold} of the offline keys "
            f"({', '.join(names)}); {len(distinct)} given",
            f"變更信任清單需要 {threshold} 把離線金鑰（{', '.join(names)}），"
            f"目前僅 {len(distinct)} 把",
        )


def _ders(request: bytes) -> tuple[bytes, ...]:
    return OnboardingRequest.from_bytes(request).certificates
