"""Tests of certseal.tlog: RFC 9162 Merkle tree and proofs, C2SP checkpoints, leaf storage.

Roots and proofs are cross-checked against a second implementation written in this file from
the recursive definitions of RFC 9162 section 2.1 (MTH, PATH, PROOF/SUBPROOF), which calls
nothing of the project, and against published known answers.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.errors import DeserializationError, SignatureVerificationError

# --- an independent RFC 9162 section 2.1 -----------------------------------------------------


def _ref_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), by doubling."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) of section 2.1.1."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return _ref_leaf(d[0])
    k = _ref_k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of section 2.1.3.1."""
    if len(d) == 1:
        return []
    k = _ref_k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of section 2.1.4.1."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _ref_k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of section 2.1.4.1, for 0 < m < n."""
    return ref_subproof(m, d, True)


# Distinct entries, so that no two siblings share a hash.
ENTRIES = [f"certseal test leaf {i}".encode() * (1 + i % 3) for i in range(64)]
LEAF_HASHES = [_ref_leaf(e) for e in ENTRIES]


def _concat(n: int) -> bytes:
    return b"".join(LEAF_HASHES[:n])


@pytest.fixture(scope="module")
def trees() -> dict[int, tlog.MerkleTree]:
    """A tree built from scratch for every size 1..64."""
    return {n: tlog.MerkleTree(_concat(n)) for n in range(1, 65)}


@pytest.fixture(scope="module")
def ref_roots() -> dict[int, bytes]:
    return {n: ref_mth(ENTRIES[:n]) for n in range(0, 65)}


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# --- known answers ----------------------------------------------------------------------------

# RFC 6962 / CT reference test vector (as published in transparency-dev/merkle
# proof/verify_test.go): eight entries and the roots of their prefixes.
KAT_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
KAT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, path) and (old size, new size, proof), hex.
KAT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
KAT_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def test_empty_tree_root_is_sha256_of_empty_string() -> None:
    expected = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert expected == tlog.EMPTY_ROOT
    assert tlog.MerkleTree().root() == expected
    assert tlog.merkle_root(b"") == expected
    assert ref_mth([]) == expected


def test_hash_functions_match_rfc_prefixes() -> None:
    assert tlog.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert tlog.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_known_answer_roots() -> None:
    tree = tlog.MerkleTree(b"".join(tlog.leaf_hash(e) for e in KAT_ENTRIES))
    for n, want in enumerate(KAT_ROOTS, start=1):
        assert tree.root(n).hex() == want
        assert ref_mth(KAT_ENTRIES[:n]).hex() == want  # the reference itself is right


@pytest.mark.parametrize(("index", "size", "path"), KAT_INCLUSION)
def test_known_answer_inclusion(index: int, size: int, path: list[str]) -> None:
    tree = tlog.MerkleTree(b"".join(tlog.leaf_hash(e) for e in KAT_ENTRIES))
    proof = tree.inclusion_proof(index, size)
    assert [h.hex() for h in proof.hashes] == path
    root = bytes.fromhex(KAT_ROOTS[size - 1])
    tlog.verify_inclusion(tlog.leaf_hash(KAT_ENTRIES[index]), proof, root)


@pytest.mark.parametrize(("old", "new", "path"), KAT_CONSISTENCY)
def test_known_answer_consistency(old: int, new: int, path: list[str]) -> None:
    tree = tlog.MerkleTree(b"".join(tlog.leaf_hash(e) for e in KAT_ENTRIES))
    proof = tree.consistency_proof(old, new)
    assert [h.hex() for h in proof.hashes] == path
    old_root, new_root = bytes.fromhex(KAT_ROOTS[old - 1]), bytes.fromhex(KAT_ROOTS[new - 1])
    tlog.verify_consistency(proof, old_root, new_root)


# --- every size, every index, every pair, against the reference -------------------------------


def test_roots_match_reference_for_sizes_0_to_64(
    trees: dict[int, tlog.MerkleTree], ref_roots: dict[int, bytes]
) -> None:
    big = tlog.MerkleTree(_concat(64))
    grown = tlog.MerkleTree()
    for n in range(1, 65):
        grown.append(LEAF_HASHES[n - 1])
        assert trees[n].root() == ref_roots[n], n
        assert big.root(n) == ref_roots[n], n
        assert grown.root() == ref_roots[n], n
        assert tlog.merkle_root(_concat(n)) == ref_roots[n], n
    assert big.root(0) == ref_roots[0]


@pytest.mark.parametrize("n", range(1, 65))
def test_inclusion_proofs_every_index(
    n: int, trees: dict[int, tlog.MerkleTree], ref_roots: dict[int, bytes]
) -> None:
    tree, big = trees[n], trees[64]
    root = ref_roots[n]
    for m in range(n):
        want = ref_path(m, ENTRIES[:n])
        proof = tree.inclusion_proof(m)
        assert list(proof.hashes) == want, (m, n)
        assert big.inclusion_proof(m, n) == proof, (m, n)
        tlog.verify_inclusion(LEAF_HASHES[m], proof, root)
        _assert_inclusion_tampering_fails(proof, root, n, ref_roots)


def _assert_inclusion_tampering_fails(
    proof: tlog.InclusionProof, root: bytes, n: int, ref_roots: dict[int, bytes]
) -> None:
    m, path = proof.leaf_index, list(proof.hashes)
    leaf = LEAF_HASHES[m]

    def rejected(p: tlog.InclusionProof, leaf: bytes = leaf, root: bytes = root) -> None:
        with pytest.raises(SignatureVerificationError, match="inclusion proof"):
            tlog.verify_inclusion(leaf, p, root)

    for i in range(len(path)):
        for bit in (0, 7):
            rejected(tlog.InclusionProof(m, n, (*path[:i], _flip(path[i], bit), *path[i + 1 :])))
    if path:
        rejected(tlog.InclusionProof(m, n, tuple(path[:-1])))  # truncated
        rejected(tlog.InclusionProof(m, n, tuple(path[1:])))  # first hash dropped
    with pytest.raises(SignatureVerificationError, match="longer than the tree is deep"):
        tlog.verify_inclusion(leaf, tlog.InclusionProof(m, n, (*path, root)), root)
    rejected(tlog.InclusionProof(m, n, (root, *path)))  # leading extra hash
    rejected(proof, leaf=_flip(leaf))
    rejected(proof, root=_flip(root))
    rejected(proof, root=tlog.EMPTY_ROOT)
    for other in {m - 1, m + 1, m ^ 2} - {m}:
        if 0 <= other < n:
            # The same leaf claimed at another index, and the other index's own leaf.
            rejected(tlog.InclusionProof(other, n, tuple(path)))
            rejected(tlog.InclusionProof(other, n, tuple(path)), leaf=LEAF_HASHES[other])
    for size in {n - 1, n + 1, 2 * n, n // 2} - {n}:
        # Checked against the root of the claimed size: the root alone does not fix the
        # size (the path of leaf 0 in 3 leaves also "verifies" for size 4 with the size-3
        # root), which is why a checkpoint signs the size and the root together.
        if m < size <= 64 and ref_path(m, ENTRIES[:size]) != path:
            rejected(tlog.InclusionProof(m, size, tuple(path)), root=ref_roots[size])


@pytest.mark.parametrize("new", range(1, 65))
def test_consistency_proofs_every_pair(
    new: int, trees: dict[int, tlog.MerkleTree], ref_roots: dict[int, bytes]
) -> None:
    tree, big = trees[new], trees[64]
    for old in range(0, new + 1):
        proof = tree.consistency_proof(old)
        want = ref_proof(old, ENTRIES[:new]) if 0 < old < new else []
        assert list(proof.hashes) == want, (old, new)
        assert big.consistency_proof(old, new) == proof, (old, new)
        tlog.verify_consistency(proof, ref_roots[old], ref_roots[new])
        if 0 < old < new:
            _assert_consistency_tampering_fails(proof, ref_roots)


def _assert_consistency_tampering_fails(
    proof: tlog.ConsistencyProof, ref_roots: dict[int, bytes]
) -> None:
    m, n, path = proof.old_size, proof.new_size, list(proof.hashes)
    old_root, new_root = ref_roots[m], ref_roots[n]

    def rejected(p: tlog.ConsistencyProof, old: bytes = old_root, new: bytes = new_root) -> None:
        with pytest.raises(SignatureVerificationError, match="consistency proof"):
            tlog.verify_consistency(p, old, new)

    for i in range(len(path)):
        for bit in (0, 4):
            rejected(tlog.ConsistencyProof(m, n, (*path[:i], _flip(path[i], bit), *path[i + 1 :])))
    rejected(tlog.ConsistencyProof(m, n, tuple(path[:-1])))  # truncated
    rejected(tlog.ConsistencyProof(m, n, ()))  # empty
    rejected(tlog.ConsistencyProof(m, n, (*path, old_root)))
    rejected(tlog.ConsistencyProof(m, n, (*path, new_root)))
    rejected(tlog.ConsistencyProof(m, n, (path[0], *path)))
    rejected(tlog.ConsistencyProof(m, n, (old_root, *path)))
    rejected(proof, old=_flip(old_root))
    rejected(proof, new=_flip(new_root))
    rejected(proof, old=new_root, new=old_root)
    # A rewritten history: the same sizes, but one earlier leaf changed.
    rewritten = [*ENTRIES[:n]]
    rewritten[m - 1] = b"rewritten"
    rejected(proof, new=ref_mth(rewritten))
    for old in {m - 1, m + 1, m ^ 2} - {m}:
        if 0 < old < n:
            claimed = tlog.ConsistencyProof(old, n, tuple(path))
            rejected(claimed)
            rejected(claimed, old=ref_roots[old])
    for new in {n - 1, n + 1, 2 * n, n // 2} - {n}:
        # As for inclusion, a root does not fix its size (the proof from 1 to 3 leaves also
        # passes as "1 to 4" with the size-3 root); the checkpoint signs both together.
        if m < new <= 64 and ref_proof(m, ENTRIES[:new]) != path:
            rejected(tlog.ConsistencyProof(m, new, tuple(path)), new=ref_roots[new])


def test_consistency_edge_sizes() -> None:
    root = ref_mth(ENTRIES[:5])
    tlog.verify_consistency(tlog.ConsistencyProof(0, 5, ()), tlog.EMPTY_ROOT, root)
    tlog.verify_consistency(tlog.ConsistencyProof(5, 5, ()), root, root)
    with pytest.raises(SignatureVerificationError, match="two roots for one size"):
        tlog.verify_consistency(tlog.ConsistencyProof(5, 5, ()), root, _flip(root))
    with pytest.raises(SignatureVerificationError, match="must be empty"):
        tlog.verify_consistency(tlog.ConsistencyProof(5, 5, (root,)), root, root)
    with pytest.raises(SignatureVerificationError, match="must be empty"):
        tlog.verify_consistency(tlog.ConsistencyProof(0, 5, (root,)), tlog.EMPTY_ROOT, root)
    with pytest.raises(SignatureVerificationError, match="not the empty hash"):
        tlog.verify_consistency(tlog.ConsistencyProof(0, 5, ()), root, root)


def test_larger_tree_across_batches_matches_reference() -> None:
    """More leaves than one build batch, grown in uneven appends, against the reference."""
    n = (1 << 16) + 1234
    entries = [i.to_bytes(4, "big") for i in range(n)]
    hashes_ = b"".join(_ref_leaf(e) for e in entries)
    tree = tlog.MerkleTree(hashes_[: 32 * 1000])
    offset = 1000
    for step in (1, 15, 16, 17, 40000, n):
        end = min(offset + step, n)
        assert tree.append(hashes_[32 * offset : 32 * end]) == end
        offset = end
    assert tree.size == n
    assert tree.root() == tlog.MerkleTree(hashes_).root() == ref_mth(entries)
    for size in (1000, 1001, 1016, 1017, 41049, 65536, n):
        assert tree.root(size) == ref_mth(entries[:size]), size
    for index, size in ((0, n), (65535, n), (65536, n), (n - 1, n), (777, 41049)):
        proof = tree.inclusion_proof(index, size)
        assert list(proof.hashes) == ref_path(index, entries[:size])
    for old, new in ((1000, n), (65536, n), (41049, 65536), (n - 1, n)):
        assert list(tree.consistency_proof(old, new).hashes) == ref_proof(old, entries[:new])


def test_tree_rejects_bad_requests() -> None:
    tree = tlog.MerkleTree(_concat(5))
    with pytest.raises(ValueError, match="multiple of 32"):
        tlog.MerkleTree(b"x" * 33)
    with pytest.raises(ValueError, match="outside"):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError, match="outside"):
        tree.inclusion_proof(0, 6)
    with pytest.raises(ValueError, match="outside"):
        tree.root(6)
    with pytest.raises(ValueError, match="not between"):
        tree.consistency_proof(4, 3)
    assert tree.leaf_hash(4) == LEAF_HASHES[4]


# --- proof JSON ---------------------------------------------------------------------------------


def test_proofs_round_trip_through_dicts() -> None:
    tree = tlog.MerkleTree(_concat(13))
    inclusion = tree.inclusion_proof(6)
    data = inclusion.to_dict()
    assert data == {
        "leaf_index": 6,
        "tree_size": 13,
        "hashes": [base64.b64encode(h).decode() for h in ref_path(6, ENTRIES[:13])],
    }
    assert tlog.InclusionProof.from_dict(data) == inclusion
    consistency = tree.consistency_proof(5)
    data = consistency.to_dict()
    assert set(data) == {"old_size", "new_size", "hashes"}
    assert tlog.ConsistencyProof.from_dict(data) == consistency


def test_proof_dict_keeps_unknown_fields() -> None:
    data = {"leaf_index": 0, "tree_size": 1, "hashes": [], "x-note": "kept"}
    proof = tlog.InclusionProof.from_dict(data)
    assert proof.unrecognized_fields == {"x-note": "kept"}
    assert proof.to_dict() == data


GOOD_HASH = base64.b64encode(b"\x11" * 32).decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tree_size": 2, "hashes": [GOOD_HASH]}, "lacks leaf_index"),
        ({"leaf_index": True, "tree_size": 2, "hashes": [GOOD_HASH]}, "leaf_index must be"),
        ({"leaf_index": "0", "tree_size": 2, "hashes": [GOOD_HASH]}, "leaf_index must be"),
        ({"leaf_index": -1, "tree_size": 2, "hashes": [GOOD_HASH]}, "leaf_index must be"),
        ({"leaf_index": 2, "tree_size": 2, "hashes": [GOOD_HASH]}, "leaf_index 2 >= tree_size"),
        ({"leaf_index": 0, "tree_size": 0, "hashes": []}, "tree_size must be"),
        ({"leaf_index": 0, "tree_size": 2**64, "hashes": []}, "tree_size must be"),
        ({"leaf_index": 0, "tree_size": 2, "hashes": GOOD_HASH}, "list of base64"),
        ({"leaf_index": 0, "tree_size": 2, "hashes": [GOOD_HASH[:-4]]}, "32 bytes"),
        ({"leaf_index": 0, "tree_size": 2, "hashes": ["not base64!"]}, "not valid base64"),
        ({"leaf_index": 0, "tree_size": 2, "hashes": [GOOD_HASH.rstrip("=")]}, "base64"),
        ([0, 2, []], "JSON object"),
    ],
)
def test_inclusion_proof_from_dict_rejects(data: object, message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        tlog.InclusionProof.from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"old_size": 1, "hashes": []}, "lacks new_size"),
        ({"old_size": 3, "new_size": 2, "hashes": []}, "old_size 3 > new_size 2"),
        ({"old_size": 1.0, "new_size": 2, "hashes": []}, "old_size must be"),
        ({"old_size": 1, "new_size": 2, "hashes": [GOOD_HASH, 5]}, "list of base64"),
    ],
)
def test_consistency_proof_from_dict_rejects(data: object, message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        tlog.ConsistencyProof.from_dict(data)  # type: ignore[arg-type]


# --- checkpoints and signed notes --------------------------------------------------------------

ORIGIN = "diplomas.example.edu/certseal-log"
ROOT = hashlib.sha256(b"some root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()
# The same 32 bytes with a nonzero unused bit: other decoders may not decode it at all.
_LAST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
NON_CANONICAL_ROOT_B64 = ROOT_B64[:42] + _LAST[_LAST.index(ROOT_B64[42]) ^ 1] + "="
# Fixed test keys, so a failure reproduces: the RFC 6979 A.2.5 P-256 key and another scalar.
LOG_KEY = ec.derive_private_key(
    int("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", 16), ec.SECP256R1()
)
OTHER_KEY = ec.derive_private_key(0x5EED, ec.SECP256R1())


def _independent_key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:4]


def _independent_sign(text: str, name: str, key: ec.EllipticCurvePrivateKey) -> str:
    """A signed note per c2sp.org/signed-note type 0x02, written without the project's code."""
    sig = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    blob = base64.b64encode(_independent_key_id(key.public_key()) + sig).decode()
    return f"{text}\n\u2014 {name} {blob}\n"


def test_checkpoint_text_format() -> None:
    cp = tlog.Checkpoint(ORIGIN, 42, ROOT, ("time 2026-06-20T00:00:00Z",))
    assert cp.to_text() == f"{ORIGIN}\n42\n{ROOT_B64}\ntime 2026-06-20T00:00:00Z\n"
    assert tlog.Checkpoint.from_text(cp.to_text()) == cp
    empty = tlog.Checkpoint(ORIGIN, 0, tlog.EMPTY_ROOT)
    assert empty.to_text() == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert tlog.Checkpoint.from_text(empty.to_text()) == empty


def test_signed_checkpoint_round_trip_and_format() -> None:
    cp = tlog.Checkpoint(ORIGIN, 3_000_000, ROOT)
    note = tlog.sign_checkpoint(cp, ORIGIN, LOG_KEY)
    text, _, sig_line = note.partition("\n\n")
    assert text + "\n" == cp.to_text()
    assert sig_line.startswith(f"\u2014 {ORIGIN} ") and sig_line.endswith("\n")
    blob = base64.b64decode(sig_line.split(" ")[2].rstrip("\n"), validate=True)
    assert blob[:4] == _independent_key_id(LOG_KEY.public_key())
    # The signature is ECDSA P-256 over SHA-256 of the note text, checked here directly.
    LOG_KEY.public_key().verify(blob[4:], cp.to_text().encode(), ec.ECDSA(hashes.SHA256()))
    assert tlog.open_checkpoint(note, ORIGIN, LOG_KEY.public_key()) == cp
    assert tlog.open_checkpoint(note.encode(), ORIGIN, LOG_KEY.public_key()) == cp


def test_open_accepts_independently_signed_note() -> None:
    note = _independent_sign(f"{ORIGIN}\n7\n{ROOT_B64}\next one\n", ORIGIN, LOG_KEY)
    cp = tlog.open_checkpoint(note, ORIGIN, LOG_KEY.public_key())
    assert cp == tlog.Checkpoint(ORIGIN, 7, ROOT, ("ext one",))


# Real checkpoints signed with signature type 0x02 by production logs, with their keys as
# verifier strings, from transparency-dev/formats note/note_verifier_test.go.
REAL_ECDSA_NOTES = [
    (
        "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXw"
        "BcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=",
        "Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n\u2014 rekor.sigstore.dev "
        "wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURU"
        "CRdxwWBHHufk=\n",
    ),
    (
        "pixel6_transparency_log+91c16e30+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4N"
        "DdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=",
        "DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n"
        "\u2014 pixel6_transparency_log "
        "kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHtoCIGD0cNe47dHWBoPwYdgBCepB06/+g5O1"
        "FmYjXl06owL4\n",
    ),
]


@pytest.mark.parametrize(("vkey", "note"), REAL_ECDSA_NOTES)
def test_interop_with_published_ecdsa_checkpoints(vkey: str, note: str) -> None:
    name, _, material = vkey.split("+", 2)
    public_key = serialization.load_der_public_key(base64.b64decode(material)[1:])
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert tlog.note_verifier_key(name, public_key) == vkey
    cp = tlog.open_checkpoint(note, name, public_key)
    assert cp.to_text() == note.partition("\n\n")[0] + "\n"
    tampered = note.replace("\n", "1\n", 2)  # one more digit in the tree size
    with pytest.raises(SignatureVerificationError, match="does not verify"):
        tlog.open_checkpoint(tampered, name, public_key)


def test_open_rejects_other_key_and_other_name() -> None:
    note = tlog.sign_checkpoint(tlog.Checkpoint(ORIGIN, 1, ROOT), ORIGIN, LOG_KEY)
    with pytest.raises(SignatureVerificationError, match="not signed by"):
        tlog.open_checkpoint(note, ORIGIN, OTHER_KEY.public_key())
    with pytest.raises(SignatureVerificationError, match="not signed by"):
        tlog.open_checkpoint(note, "other.example/log", LOG_KEY.public_key())
    # Same name, other key: the key ID differs, so it is someone else's signature.
    impostor = tlog.sign_checkpoint(tlog.Checkpoint(ORIGIN, 1, ROOT), ORIGIN, OTHER_KEY)
    with pytest.raises(SignatureVerificationError, match="not signed by"):
        tlog.open_checkpoint(impostor, ORIGIN, LOG_KEY.public_key())


def test_open_rejects_altered_size_root_or_signature() -> None:
    cp = tlog.Checkpoint(ORIGIN, 41, ROOT)
    note = tlog.sign_checkpoint(cp, ORIGIN, LOG_KEY)
    other_root = base64.b64encode(_flip(ROOT)).decode()
    blob = note.rsplit(" ", 1)[1].rstrip("\n")
    raw = base64.b64decode(blob)
    bad_sig = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    for altered in (
        note.replace("\n41\n", "\n42\n", 1),
        note.replace(ROOT_B64, other_root, 1),
        note.replace(ORIGIN + "\n", "evil.example/log\n", 1),
        note.replace(blob, bad_sig),
        note.replace(blob, base64.b64encode(raw[:4] + b"not DER").decode()),
    ):
        assert altered != note
        with pytest.raises(SignatureVerificationError, match="does not verify"):
            tlog.open_checkpoint(altered, ORIGIN, LOG_KEY.public_key())


def test_open_ignores_unknown_signatures_but_not_a_bad_one_of_ours() -> None:
    text = f"{ORIGIN}\n9\n{ROOT_B64}\n"
    ours = _independent_sign(text, ORIGIN, LOG_KEY).split("\n\n")[1]
    witness = _independent_sign(text, "witness.example/w1", OTHER_KEY).split("\n\n")[1]
    note = f"{text}\n{witness}{ours}"
    assert tlog.open_checkpoint(note, ORIGIN, LOG_KEY.public_key()).size == 9
    stale = _independent_sign(f"{ORIGIN}\n8\n{ROOT_B64}\n", ORIGIN, LOG_KEY).split("\n\n")[1]
    with pytest.raises(SignatureVerificationError, match="does not verify"):
        tlog.open_checkpoint(f"{text}\n{ours}{stale}", ORIGIN, LOG_KEY.public_key())


def _signed(text: str) -> str:
    return _independent_sign(text, ORIGIN, LOG_KEY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n1\n{ROOT_B64}", "end with a newline"),
        (f"{ORIGIN}\n1\n", "origin, size and root"),
        (f"{ORIGIN}\n12a\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n-1\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n+1\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n01\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n 1\n{ROOT_B64}\n", "not a decimal"),
        (f"{ORIGIN}\n\u0661\n{ROOT_B64}\n", "not a decimal"),  # ARABIC-INDIC DIGIT ONE
        (f"{ORIGIN}\n18446744073709551616\n{ROOT_B64}\n", "not a decimal"),  # 2**64
        (f"{ORIGIN}\n1\n{ROOT_B64[:-2]}!=\n", "not valid base64"),
        (f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n", "base64"),
        (f"{ORIGIN}\n1\n{NON_CANONICAL_ROOT_B64}\n", "not canonical base64"),
        (f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes, not 32"),
        (f"{ORIGIN}\n1\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes, not 32"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\nafter blank\n", "non-empty"),
        (f"\n1\n{ROOT_B64}\n", "non-empty"),
        (f"{ORIGIN}\r\n1\n{ROOT_B64}\n", "control character"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\ttab\n", "control character"),
    ],
)
def test_malformed_checkpoint_text(text: str, message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        tlog.Checkpoint.from_text(text)
    if text.endswith("\n") and "\n\n" not in text and "\r" not in text and "\t" not in text:
        # Correctly signed, still malformed: the signature does not make it acceptable.
        with pytest.raises(DeserializationError, match=message):
            tlog.open_checkpoint(_signed(text), ORIGIN, LOG_KEY.public_key())


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (f"{ORIGIN}\n1\n{ROOT_B64}\n", "no blank line"),
        (_signed(f"{ORIGIN}\n1\n{ROOT_B64}\n").rstrip("\n"), "end with a signature line"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n- {ORIGIN} AAAAAAA=\n", "malformed note signature"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n\u2014 {ORIGIN}\n", "malformed note signature"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n\u2014 a+b AAAAAAA=\n", "malformed key name"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n\u2014 {ORIGIN} AAAA\n", "too short"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n\u2014 {ORIGIN} ***\n", "not valid base64"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n" + "\u2014 x AAAAAAA=\n" * 101, "more than 100"),
        (b"\xff\xfe" + _signed(f"{ORIGIN}\n1\n{ROOT_B64}\n").encode(), "not UTF-8"),
        ("\x01" + _signed(f"{ORIGIN}\n1\n{ROOT_B64}\n"), "control character"),
    ],
)
def test_malformed_signed_note(note: str | bytes, message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        tlog.open_checkpoint(note, ORIGIN, LOG_KEY.public_key())


def test_checkpoint_and_key_validation() -> None:
    with pytest.raises(ValueError, match="origin"):
        tlog.Checkpoint("", 1, ROOT)
    with pytest.raises(ValueError, match="origin"):
        tlog.Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(ValueError, match="size"):
        tlog.Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(ValueError, match="root_hash"):
        tlog.Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(ValueError, match="extension line"):
        tlog.Checkpoint(ORIGIN, 1, ROOT, ("",))
    cp = tlog.Checkpoint(ORIGIN, 1, ROOT)
    for name in ("", "a b", "a+b", "a\u00a0b"):
        with pytest.raises(ValueError, match="key name"):
            tlog.sign_checkpoint(cp, name, LOG_KEY)
    p384 = ec.derive_private_key(7, ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        tlog.sign_checkpoint(cp, ORIGIN, p384)


# --- leaf storage -----------------------------------------------------------------------------


def test_leaf_file_append_and_read(tmp_path: Path) -> None:
    path = tmp_path / "leaves.bin"
    assert tlog.append_leaf_hashes(path, LEAF_HASHES[:3]) == 3
    assert tlog.append_leaf_hashes(path, _concat(10)[96:]) == 10
    assert tlog.append_leaf_hashes(path, []) == 10
    data = tlog.read_leaf_hashes(path)
    assert data == _concat(10)
    assert tlog.MerkleTree(data).root() == ref_mth(ENTRIES[:10])


def test_leaf_file_rejects_bad_hashes_and_torn_files(tmp_path: Path) -> None:
    path = tmp_path / "leaves.bin"
    with pytest.raises(ValueError, match="32 bytes"):
        tlog.append_leaf_hashes(path, [b"short"])
    with pytest.raises(ValueError, match="multiple of 32"):
        tlog.append_leaf_hashes(path, b"x" * 40)
    path.write_bytes(_concat(2) + b"torn")
    with pytest.raises(DeserializationError, match="not a multiple of 32"):
        tlog.read_leaf_hashes(path)
    with pytest.raises(DeserializationError, match="not a multiple of 32"):
        tlog.append_leaf_hashes(path, LEAF_HASHES[:1])
    assert path.read_bytes() == _concat(2) + b"torn"  # nothing was appended
    with pytest.raises(FileNotFoundError):
        tlog.read_leaf_hashes(tmp_path / "missing.bin")
