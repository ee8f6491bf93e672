"""The operator's keys: offline root keys (a threshold of them signs root and targets) and one
online key (snapshot, timestamp, and the trust-list log's checkpoints).

Private keys are written only encrypted (PKCS#8, PBES2/AES-256), never overwritten. Each root
key may have its own passphrase, held by its own officer: ``CERTSEAL_PASSPHRASE_<NAME>`` (e.g.
``CERTSEAL_PASSPHRASE_ROOT_2``) overrides ``CERTSEAL_PASSPHRASE`` for that key in the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.errors import ConfigurationError, PassphraseError

ONLINE = "online"
MIN_PASSPHRASE = 12


def root_key_names(count: int) -> list[str]:
    return [f"root-{i}" for i in range(1, count + 1)]


def check_passphrase(passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError(
            f"the passphrase must be at least {MIN_PASSPHRASE} characters",
            f"密碼至少需要 {MIN_PASSPHRASE} 個字元",
        )
    return passphrase.encode()


def write_new_key(keys_dir: Path, name: str, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """Create a P-256 key, stored encrypted as ``<name>.key.pem`` beside ``<name>.pub.pem``."""
    secret = check_passphrase(passphrase)
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(keys_dir / f"{name}.key.pem", private, 0o600)
    _write_new(keys_dir / f"{name}.pub.pem", public, 0o644)
    return key


def load_key(keys_dir: Path, name: str, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """Unlock one of the operator's keys."""
    path = keys_dir / f"{name}.key.pem"
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(
            f"the operator has no key {name} in {keys_dir}", f"{keys_dir} 中沒有金鑰 {name}"
        ) from None
    try:
        key = serialization.load_pem_private_key(pem, passphrase.encode())
    except (ValueError, TypeError):
        raise PassphraseError(
            f"the passphrase does not unlock the key {name}", f"密碼無法解開金鑰 {name}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"key {name} is not an ECDSA key", f"金鑰 {name} 不是 ECDSA 金鑰")
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
