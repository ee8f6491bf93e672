"""The upload's hash, fed to hashlib in pieces (verifier/engine.py: upload_sha256), is the
file's SHA-256 at every size around the piece boundaries and the 1 MiB switch."""

from __future__ import annotations

import hashlib
import os

import pytest

from verifier.engine import upload_sha256

SIZES = [0, 1, 2046, 2047, 2048, 4094, 4095, 74_495, (1 << 20) - 1, 1 << 20, (1 << 20) + 1]


@pytest.mark.parametrize("size", SIZES)
def test_the_upload_hash_is_the_files_sha256(size: int) -> None:
    data = os.urandom(size)
    assert upload_sha256(data) == hashlib.sha256(data).hexdigest()
