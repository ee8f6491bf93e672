"""What the auditor remembers between runs, like a Certificate Transparency monitor.

The key, the log, every checkpoint it accepted, every status-list snapshot it saw (by hash), and
every revocation and supersession (document hash to leaf index): so the next run tells a site
that was only extended from one that was rewritten, even when the rewrite was re-signed
consistently. Validated on construction; ``from_dict``/``to_dict``; ``load``/``save`` are the
only I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certseal.errors import InputError
from certseal.tlog import HASH_SIZE

STATE_TYPE = "certseal/auditor-state"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class StateFileError(InputError):
    """The auditor's state file is not one this program wrote, or cannot be read or saved."""

    code = "auditor_state"


def _bad(why: str) -> StateFileError:
    return StateFileError(
        f"the auditor state is not one this program wrote: {why}",
        f"稽核狀態檔格式錯誤：{why}",
    )


@dataclass(frozen=True)
class SeenCheckpoint:
    """A checkpoint an earlier audit accepted."""

    size: int
    root: bytes
    time: str | None

    def __post_init__(self) -> None:
        if type(self.size) is not int or self.size < 0:
            raise _bad("a checkpoint size must be a whole number")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise _bad(f"a checkpoint root must be {HASH_SIZE} bytes")

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": base64.b64encode(self.root).decode(), "time": self.time}

    @classmethod
    def from_dict(cls, d: object) -> SeenCheckpoint:
        if not isinstance(d, Mapping) or not isinstance(d.get("root"), str):
            raise _bad("a checkpoint must be an object with a root")
        try:
            root = base64.b64decode(d["root"], validate=True)
        except (binascii.Error, ValueError):
            raise _bad("a checkpoint root is not base64") from None
        time = d.get("time")
        if time is not None and not isinstance(time, str):
            raise _bad("a checkpoint time must be text")
        return cls(d.get("size"), root, time)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AuditorState:
    """What the auditor remembers between runs.

    ``snapshots`` maps each status-list version seen to the SHA-256 of its snapshot file: a
    deleted or re-signed older snapshot is named even when everything else is consistent.
    """

    key_id: str
    origin: str
    status_version: int
    checkpoints: tuple[SeenCheckpoint, ...]
    revoked: Mapping[str, int] = field(default_factory=dict)
    superseded: Mapping[str, int] = field(default_factory=dict)
    snapshots: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _HEX64.fullmatch(self.key_id):
            raise _bad("the key id must be 64 hex digits")
        if not isinstance(self.origin, str) or not self.origin:
            raise _bad("the log origin must be text")
        if type(self.status_version) is not int or self.status_version < 0:
            raise _bad("the status-list version must be a whole number")
        sizes = [c.size for c in self.checkpoints]
        if sizes != sorted(set(sizes)):
            raise _bad("checkpoints must be listed once each, by size")
        for name, seen in (("revoked", self.revoked), ("superseded", self.superseded)):
            for sha, index in seen.items():
                if not _HEX64.fullmatch(sha) or type(index) is not int or index < 0:
                    raise _bad(f"{name} maps document hashes to leaf indexes")
        for version, sha in self.snapshots.items():
            if type(version) is not int or version < 1 or not _HEX64.fullmatch(sha):
                raise _bad("snapshots map versions to SHA-256 hashes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATE_TYPE,
            "key_id": self.key_id,
            "origin": self.origin,
            "status_version": self.status_version,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "revoked": dict(self.revoked),
            "superseded": dict(self.superseded),
            "snapshots": {str(v): sha for v, sha in sorted(self.snapshots.items())},
        }

    @classmethod
    def from_dict(cls, d: object) -> AuditorState:
        """Parse a saved state (``snapshots`` may be absent: states saved before it existed).

        Raises:
            StateFileError: not a state this program wrote.
        """
        if not isinstance(d, Mapping) or d.get("_type") != STATE_TYPE:
            raise _bad("not an auditor state")
        checkpoints = d.get("checkpoints")
        revoked, superseded = d.get("revoked"), d.get("superseded")
        snapshots = d.get("snapshots", {})
        if (
            not isinstance(checkpoints, list)
            or not isinstance(revoked, Mapping)
            or not isinstance(superseded, Mapping)
            or not isinstance(snapshots, Mapping)
        ):
            raise _bad("checkpoints, revoked, superseded and snapshots are missing")
        try:
            versions = {int(v): sha for v, sha in snapshots.items()}
        except ValueError:
            raise _bad("snapshot versions must be whole numbers") from None
        return cls(
            d.get("key_id"),  # type: ignore[arg-type]
            d.get("origin"),  # type: ignore[arg-type]
            d.get("status_version"),  # type: ignore[arg-type]
            tuple(SeenCheckpoint.from_dict(c) for c in checkpoints),
            dict(revoked),
            dict(superseded),
            versions,
        )

    @classmethod
    def load(cls, path: Path) -> AuditorState | None:
        """The state saved at ``path``, or None if there is none yet (a first audit)."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise StateFileError(
                f"cannot read the auditor state {path}: {e}", f"無法讀取稽核狀態檔 {path}：{e}"
            ) from None
        return cls.from_dict(data)

    def save(self, path: Path) -> None:
        """Write the state atomically: a crash leaves the previous state, never half of one."""
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), "utf-8")
            tmp.replace(path)
        except OSError as e:
            raise StateFileError(
                f"cannot save the auditor state {path}: {e.strerror}",
                f"無法儲存稽核狀態檔 {path}：{e.strerror}",
            ) from None
