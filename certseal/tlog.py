"""The transparency log: RFC 9162 Merkle tree, proofs, and signed checkpoints.

The authority appends one leaf per published event and signs a checkpoint of the tree; an
auditor who kept an older checkpoint asks for a consistency proof and so learns whether the
published history was only ever extended, never rewritten (as in Certificate Transparency).

Merkle tree (RFC 9162 section 2.1, identical to RFC 6962 section 2.1):

- leaf hash ``SHA-256(0x00 || leaf)``, interior node ``SHA-256(0x01 || left || right)``;
- the hash of ``n`` leaves splits at the largest power of two smaller than ``n``;
- the empty tree's hash is ``SHA-256("")``;
- inclusion proofs (2.1.3) and consistency proofs (2.1.4) are generated as the RFC's
  ``PATH`` and ``PROOF`` define them and verified with its algorithms 2.1.3.2 and 2.1.4.2.
  Outside the RFC's ``0 < old_size < new_size`` we accept, with an empty proof, ``old_size ==
  new_size`` when both roots are equal and ``old_size == 0`` when the old root is the empty
  tree's hash.

Checkpoints follow C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text is
the origin line, the tree size in decimal (no leading zero), the base64 root hash, then any
extension lines, each ending in a newline. They are signed as a C2SP signed note
(https://c2sp.org/signed-note): the text, a blank line, then lines
``— <key name> base64(key ID || signature)``. Our key is the status-list ECDSA P-256 key, which
signed-note covers with signature type ``0x02`` ("ECDSA signatures as implemented by
github.com/transparency-dev/witness"): the key ID is the first four bytes of
``SHA-256(SubjectPublicKeyInfo DER)`` -- unlike Ed25519, the key name is not hashed in -- and
the signature is ECDSA over SHA-256 of the note text, ASN.1 DER encoded. Notes we sign therefore
open with the Go tools of transparency-dev (``note.NewECDSAVerifier``) given the key string of
:func:`note_verifier_key`, and we open checkpoints signed that way by other logs (Sigstore Rekor).

Nothing here reads the clock: a caller who wants a time in the checkpoint passes it as an
extension line (e.g. ``"time 2026-06-20T00:00:00Z"``). Leaf storage is a flat file of 32-byte
leaf hashes in log order; proofs travel as JSON objects (``to_dict``/``from_dict``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.errors import DeserializationError, FormatError, SignatureVerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes and leaf indices are uint64 in RFC 9162; larger values are malformed."""

SIGNATURE_TYPE_ECDSA = 0x02
MAX_NOTE_SIGNATURES = 100
"""signed-note: verifiers SHOULD cap the signature count and MUST accept at least 16."""

_sha256 = hashlib.sha256
_SIZE_LINE = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


# --- hashing -------------------------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _parent_level(level: bytes | bytearray) -> bytes:
    """Hash adjacent pairs of a level of concatenated digests; an unpaired last one is dropped."""
    # One comprehension over the whole level keeps the per-node cost near one hashlib call.
    end = len(level) // (2 * HASH_SIZE) * (2 * HASH_SIZE)
    return b"".join([_sha256(b"\x01" + level[i : i + 64]).digest() for i in range(0, end, 64)])


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise FormatError(f"{what} must be {HASH_SIZE} bytes")


# --- the tree ------------------------------------------------------------------------------


class MerkleTree:
    """An append-only RFC 9162 Merkle tree over leaf hashes, for roots and proofs at any size.

    The leaf hashes are kept as one buffer of concatenated 32-byte digests (a ``bytes`` given to
    the constructor is kept without a copy). Interior levels are kept as concatenated digests
    from height ``_STORED_FROM`` up, about ``n / 8`` hashes in all; a node lower than that is
    recomputed from at most ``2**_STORED_FROM`` leaves when a proof needs it. A root or proof
    for any size up to :attr:`size` costs ``O(log n)`` hashes; appending ``k`` leaves costs
    ``O(k + log n)``.
    """

    _STORED_FROM = 4
    _CHUNK = 1 << 16  # leaves hashed per batch up to _STORED_FROM; a multiple of 2**_STORED_FROM

    def __init__(self, leaf_hashes: bytes | bytearray = b"") -> None:
        """Build the tree over ``leaf_hashes``, concatenated 32-byte leaf hashes in log order.

        Raises:
            FormatError: the length is not a multiple of 32.
        """
        _check_concatenated(leaf_hashes)
        self._leaves: bytes | bytearray = bytes(leaf_hashes)
        self._levels: list[bytearray] = []  # _levels[i] holds height _STORED_FROM + i
        self._size = len(leaf_hashes) // HASH_SIZE
        self._grow(0, self._size)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        if not 0 <= index < self._size:
            raise FormatError(f"leaf index {index} is outside a tree of {self._size} leaves")
        return bytes(self._leaves[index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def append(self, leaf_hashes: bytes | bytearray) -> int:
        """Add leaves (concatenated 32-byte leaf hashes) at the end; returns the new size."""
        _check_concatenated(leaf_hashes)
        if not leaf_hashes:
            return self._size
        if isinstance(self._leaves, bytes):
            self._leaves = bytearray(self._leaves)  # copied once, on the first append
        self._leaves += leaf_hashes
        old, self._size = self._size, self._size + len(leaf_hashes) // HASH_SIZE
        self._grow(old, self._size)
        return self._size

    def root(self, size: int | None = None) -> bytes:
        """The Merkle Tree Hash of the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, leaf_index: int, size: int | None = None) -> InclusionProof:
        """RFC 9162 ``PATH(leaf_index, D[size])``: proves the leaf is in the tree of ``size``."""
        size = self._check_size(size)
        if not 0 <= leaf_index < size:
            raise FormatError(f"leaf index {leaf_index} is outside a tree of {size} leaves")
        path: list[bytes] = []  # collected from the root down, returned leaf first
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if leaf_index < lo + k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
        path.reverse()
        return InclusionProof(leaf_index, size, tuple(path))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """RFC 9162 ``PROOF(old_size, D[new_size])``: the old tree is a prefix of the new one.

        Empty when ``old_size`` is 0 or equal to ``new_size``.
        """
        new_size = self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise FormatError(f"old size {old_size} is not between 0 and new size {new_size}")
        proof: list[bytes] = []
        if 0 < old_size < new_size:
            # SUBPROOF(m, D[lo:hi], whole) unrolled; ``whole`` is the RFC's flag b.
            lo, hi, whole = 0, new_size, True
            while old_size != hi:
                k = _split(hi - lo)
                if old_size - lo <= k:
                    proof.append(self._range_hash(lo + k, hi))
                    hi = lo + k
                else:
                    proof.append(self._range_hash(lo, lo + k))
                    lo += k
                    whole = False
            if not whole:
                proof.append(self._range_hash(lo, hi))
            proof.reverse()
        return ConsistencyProof(old_size, new_size, tuple(proof))

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise FormatError(f"size {size} is outside 0..{self._size}")
        return size

    def _grow(self, old: int, new: int) -> None:
        """Compute the stored nodes that leaves ``old..new`` complete."""
        low = self._STORED_FROM
        first = (old >> low) << low  # stored nodes are recomputed from their first leaf
        if not self._levels:
            self._levels.append(bytearray())
        for start in range(first, new, self._CHUNK):
            end = min(start + self._CHUNK, new)
            level: bytes | bytearray = self._leaves[start * HASH_SIZE : end * HASH_SIZE]
            for _ in range(low):
                level = _parent_level(level)
            self._levels[0] += level
        for height in range(low + 1, new.bit_length()):
            lo, hi = old >> height, new >> height
            if height - low == len(self._levels):
                self._levels.append(bytearray())
            if hi > lo:
                below = self._levels[height - low - 1]
                self._levels[height - low] += _parent_level(
                    below[2 * lo * HASH_SIZE : 2 * hi * HASH_SIZE]
                )

    def _node(self, height: int, index: int) -> bytes:
        """The hash of the complete subtree of ``2**height`` leaves from ``index << height``."""
        if height == 0:
            return bytes(self._leaves[index * HASH_SIZE : (index + 1) * HASH_SIZE])
        if height >= self._STORED_FROM:
            level = self._levels[height - self._STORED_FROM]
            return bytes(level[index * HASH_SIZE : (index + 1) * HASH_SIZE])
        start = (index << height) * HASH_SIZE
        nodes: bytes | bytearray = self._leaves[start : start + (HASH_SIZE << height)]
        for _ in range(height):
            nodes = _parent_level(nodes)
        return bytes(nodes)

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for ``0 <= lo < hi <= size``."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            height = n.bit_length() - 1
            return self._node(height, lo >> height)
        k = _split(n)
        return node_hash(self._range_hash(lo, lo + k), self._range_hash(lo + k, hi))


def merkle_root(leaf_hashes: bytes | bytearray) -> bytes:
    """The Merkle Tree Hash of concatenated 32-byte leaf hashes (RFC 9162 ``MTH``)."""
    # The tree's batched build is both the fastest and the leanest way to the root.
    return MerkleTree(leaf_hashes).root()


# --- proofs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 9162 inclusion proof (audit path) of one leaf in the tree of ``tree_size``."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]
    unrecognized_fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_uint64(self.tree_size, "tree_size", minimum=1)
        _check_uint64(self.leaf_index, "leaf_index")
        if self.leaf_index >= self.tree_size:
            raise FormatError(f"leaf_index {self.leaf_index} >= tree_size {self.tree_size}")
        object.__setattr__(self, "hashes", _check_hashes(self.hashes))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.unrecognized_fields,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "hashes": [base64.b64encode(h).decode() for h in self.hashes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InclusionProof:
        """Parse the JSON form; any malformation raises DeserializationError."""
        rest = _require_keys(data, ("leaf_index", "tree_size", "hashes"), "inclusion proof")
        try:
            return cls(
                _json_int(data["leaf_index"], "leaf_index"),
                _json_int(data["tree_size"], "tree_size"),
                _json_hashes(data["hashes"]),
                rest,
            )
        except FormatError as e:
            raise DeserializationError(f"inclusion proof: {e}") from e


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 9162 consistency proof: the tree of ``old_size`` is a prefix of ``new_size``."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]
    unrecognized_fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_uint64(self.old_size, "old_size")
        _check_uint64(self.new_size, "new_size")
        if self.old_size > self.new_size:
            raise FormatError(f"old_size {self.old_size} > new_size {self.new_size}")
        object.__setattr__(self, "hashes", _check_hashes(self.hashes))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.unrecognized_fields,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "hashes": [base64.b64encode(h).decode() for h in self.hashes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsistencyProof:
        """Parse the JSON form; any malformation raises DeserializationError."""
        rest = _require_keys(data, ("old_size", "new_size", "hashes"), "consistency proof")
        try:
            return cls(
                _json_int(data["old_size"], "old_size"),
                _json_int(data["new_size"], "new_size"),
                _json_hashes(data["hashes"]),
                rest,
            )
        except FormatError as e:
            raise DeserializationError(f"consistency proof: {e}") from e


def verify_inclusion(leaf_hash: bytes, proof: InclusionProof, root_hash: bytes) -> None:
    """Check an inclusion proof with RFC 9162 section 2.1.3.2.

    Args:
        leaf_hash: the RFC 9162 hash of the leaf (:func:`leaf_hash` of its bytes).
        proof: the proof, whose ``tree_size`` is the size of the checkpoint behind ``root_hash``.
        root_hash: the root of the tree of ``proof.tree_size`` leaves.

    Raises:
        SignatureVerificationError: the proof does not show the leaf in that tree.
    """
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root_hash, "root hash")
    fn, sn = proof.leaf_index, proof.tree_size - 1
    r = leaf_hash
    for p in proof.hashes:
        if sn == 0:
            raise _proof_error(proof, "is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error(proof, "is shorter than the tree is deep")
    if r != root_hash:
        raise _proof_error(proof, "leads to another root hash")


def verify_consistency(proof: ConsistencyProof, old_root: bytes, new_root: bytes) -> None:
    """Check a consistency proof with RFC 9162 section 2.1.4.2.

    Raises:
        SignatureVerificationError: the proof does not show that the tree of ``old_root`` is a
            prefix of the tree of ``new_root``, i.e. the history may have been rewritten.
    """
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    m, n = proof.old_size, proof.new_size
    if m == n or m == 0:
        if proof.hashes:
            raise _proof_error(proof, "must be empty for these sizes")
        if m == n and old_root != new_root:
            raise _proof_error(proof, "cannot reconcile two roots for one size")
        if m == 0 and old_root != EMPTY_ROOT:
            raise _proof_error(proof, "starts from a size-0 root that is not the empty hash")
        return
    path = list(proof.hashes)
    if not path:
        raise _proof_error(proof, "is empty")
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _proof_error(proof, "is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error(proof, "is shorter than the tree is deep")
    if fr != old_root:
        raise _proof_error(proof, "does not lead to the old root hash")
    if sr != new_root:
        raise _proof_error(proof, "does not lead to the new root hash")


def _proof_error(proof: InclusionProof | ConsistencyProof, why: str) -> SignatureVerificationError:
    if isinstance(proof, InclusionProof):
        what = f"inclusion proof of leaf {proof.leaf_index} in tree size {proof.tree_size}"
        zh = f"第 {proof.leaf_index} 筆紀錄在大小 {proof.tree_size} 之樹的包含證明無效"
    else:
        what = f"consistency proof from tree size {proof.old_size} to {proof.new_size}"
        zh = f"樹大小 {proof.old_size} 至 {proof.new_size} 的一致性證明無效，紀錄可能遭改寫"
    return SignatureVerificationError(f"{what} {why}", zh)


# --- checkpoints and signed notes ----------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the log's origin, tree size and root hash, plus extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        _check_uint64(self.size, "size")
        _check_hash(self.root_hash, "root_hash")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            _check_line(line, "extension line")

    def to_text(self) -> str:
        """The note text: every line, the last included, ends in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text strictly; any malformation raises DeserializationError."""
        if not isinstance(text, str) or not text.endswith("\n"):
            raise DeserializationError("checkpoint text must end with a newline")
        if _CONTROL.search(text):
            raise DeserializationError("checkpoint text contains a control character")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise DeserializationError("checkpoint needs origin, size and root hash lines")
        origin, size_line, root_line, *extensions = lines
        if not _SIZE_LINE.fullmatch(size_line) or int(size_line) > MAX_TREE_SIZE:
            raise DeserializationError(f"checkpoint size {size_line!r} is not a decimal uint64")
        root = _b64decode(root_line, "checkpoint root hash")
        if len(root) != HASH_SIZE:
            raise DeserializationError(f"checkpoint root hash is {len(root)} bytes, not 32")
        try:
            return cls(origin, int(size_line), root, tuple(extensions))
        except FormatError as e:
            raise DeserializationError(f"checkpoint: {e}") from e


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 4-byte signed-note key ID of an ECDSA key (type 0x02): SHA-256 of its SPKI DER."""
    return _sha256(_spki(public_key)).digest()[:4]


def note_verifier_key(key_name: str, public_key: ec.EllipticCurvePublicKey) -> str:
    """The key as ``<name>+<key ID hex>+base64(0x02 || SPKI DER)``, for other note tools.

    This is the verifier key string that transparency-dev's Go ``note.NewECDSAVerifier``
    takes, so a third party can check our checkpoints without our code.
    """
    _check_key_name(key_name)
    spki = _spki(public_key)
    material = base64.b64encode(bytes([SIGNATURE_TYPE_ECDSA]) + spki).decode()
    return f"{key_name}+{key_id(public_key).hex()}+{material}"


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key: ec.EllipticCurvePrivateKey) -> str:
    """Sign a checkpoint as a C2SP signed note with an ECDSA P-256 key; returns the note text.

    The key name SHOULD be the checkpoint's origin (tlog-checkpoint).
    """
    _check_key_name(key_name)
    _check_p256(private_key.public_key())
    text = cp.to_text()
    signature = private_key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    blob = base64.b64encode(key_id(private_key.public_key()) + signature).decode()
    return f"{text}\n— {key_name} {blob}\n"


def open_checkpoint(
    note_text: str | bytes, key_name: str, public_key: ec.EllipticCurvePublicKey
) -> Checkpoint:
    """Verify a signed checkpoint note and return its checkpoint.

    Signatures by other keys (witnesses, a rotated log key) are ignored, as signed-note
    requires; a signature by this key name and key ID must verify, and one must be present.
    The caller still compares the origin and compares the size with what it saw before.

    Raises:
        DeserializationError: the note or the checkpoint in it is malformed.
        SignatureVerificationError: no valid signature by this key.
    """
    _check_key_name(key_name)
    _check_p256(public_key)
    if isinstance(note_text, bytes):
        try:
            note_text = note_text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DeserializationError("signed checkpoint is not UTF-8") from e
    if _CONTROL.search(note_text):
        raise DeserializationError("signed checkpoint contains a control character")
    cut = note_text.rfind("\n\n")
    if cut < 0:
        raise DeserializationError("signed checkpoint has no blank line before its signatures")
    text, signature_block = note_text[: cut + 1], note_text[cut + 2 :]
    if not signature_block.endswith("\n"):
        raise DeserializationError("signed checkpoint must end with a signature line")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise DeserializationError(
            f"signed checkpoint has more than {MAX_NOTE_SIGNATURES} signatures"
        )
    wanted_id = key_id(public_key)
    verified = False
    for line in lines:
        name, blob = _parse_signature_line(line)
        if name != key_name or blob[:4] != wanted_id:
            continue
        try:
            public_key.verify(blob[4:], text.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as e:
            raise SignatureVerificationError(
                f"checkpoint signature by {key_name} does not verify",
                f"{key_name} 對檢查點的簽章驗證失敗",
            ) from e
        verified = True
    if not verified:
        raise SignatureVerificationError(
            f"checkpoint is not signed by {key_name} (key ID {wanted_id.hex()})",
            f"檢查點沒有 {key_name}（金鑰 ID {wanted_id.hex()}）的簽章",
        )
    return Checkpoint.from_text(text)


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    body = line.removeprefix("— ")
    parts = body.split(" ")
    if body == line or len(parts) != 2:
        raise DeserializationError(f"malformed note signature line {line[:80]!r}")
    name, encoded = parts
    if not _valid_key_name(name):
        raise DeserializationError(f"malformed key name in note signature line {line[:80]!r}")
    blob = _b64decode(encoded, "note signature")
    if len(blob) < 5:
        raise DeserializationError("note signature is too short to hold a key ID and signature")
    return name, blob


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not _valid_key_name(name) or _CONTROL.search(name):
        raise FormatError(f"key name {name!r} must be non-empty, without spaces or '+'")


def _check_p256(public_key: ec.EllipticCurvePublicKey) -> None:
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise FormatError("checkpoints are signed with an ECDSA P-256 key")


def _spki(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- leaf storage --------------------------------------------------------------------------


def append_leaf_hashes(
    path: str | os.PathLike[str], hashes: bytes | bytearray | Iterable[bytes]
) -> int:
    """Append leaf hashes to the log's leaf file, durably; returns the number of leaves in it.

    ``hashes`` is either concatenated 32-byte hashes or an iterable of 32-byte hashes. The file
    is created if missing. Writers must be serialized by the caller (one authority process).

    Raises:
        FormatError: a hash is not 32 bytes.
        DeserializationError: the existing file is not a whole number of hashes.
        OSError: the file cannot be written.
    """
    if isinstance(hashes, bytes | bytearray):
        data = bytes(hashes)
        _check_concatenated(data)
    else:
        items = list(hashes)
        for h in items:
            _check_hash(h, "leaf hash")
        data = b"".join(items)
    with open(path, "ab") as f:
        existing = os.fstat(f.fileno()).st_size
        if existing % HASH_SIZE:
            raise DeserializationError(
                f"leaf file {os.fspath(path)!r} is {existing} bytes, not a multiple of 32"
            )
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # a checkpoint may be signed over these leaves right after
    return (existing + len(data)) // HASH_SIZE


def read_leaf_hashes(path: str | os.PathLike[str]) -> bytes:
    """All leaf hashes of the log's leaf file, concatenated, ready for :class:`MerkleTree`.

    Raises:
        DeserializationError: the file is not a whole number of 32-byte hashes.
        OSError: the file cannot be read (a missing file is not taken as an empty log).
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % HASH_SIZE:
        raise DeserializationError(
            f"leaf file {os.fspath(path)!r} is {len(data)} bytes, not a multiple of 32"
        )
    return data


# --- small validators ----------------------------------------------------------------------


def _check_concatenated(data: bytes | bytearray) -> None:
    if not isinstance(data, bytes | bytearray):
        raise TypeError("leaf hashes must be bytes of concatenated 32-byte hashes")
    if len(data) % HASH_SIZE:
        raise FormatError(f"leaf hashes are {len(data)} bytes, not a multiple of 32")


def _check_uint64(value: int, what: str, minimum: int = 0) -> None:
    if type(value) is not int or not minimum <= value <= MAX_TREE_SIZE:
        raise FormatError(f"{what} must be an integer from {minimum} to 2**64-1")


def _check_hashes(values: Iterable[bytes]) -> tuple[bytes, ...]:
    result = tuple(values)
    for h in result:
        _check_hash(h, "proof hash")
    return result


def _check_line(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise FormatError(f"{what} must be a non-empty string")
    if "\n" in value or _CONTROL.search(value):
        raise FormatError(f"{what} must not contain a newline or control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise FormatError(f"{what} is not encodable as UTF-8") from e


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding, rejecting any other spelling of the same bytes."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DeserializationError(f"{what} is not valid base64") from e
    if base64.b64encode(data).decode() != text:
        raise DeserializationError(f"{what} is not canonical base64")
    return data


def _require_keys(data: Mapping[str, Any], keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise DeserializationError(f"{what} must be a JSON object")
    missing = [k for k in keys if k not in data]
    if missing:
        raise DeserializationError(f"{what} lacks {', '.join(missing)}")
    return {k: v for k, v in data.items() if k not in keys}


def _json_int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise FormatError(f"{what} must be an integer")
    return value


def _json_hashes(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError("hashes must be a list of base64 strings")
    try:
        return tuple(_b64decode(v, "proof hash") for v in value)
    except DeserializationError as e:
        raise FormatError(str(e)) from e
