"""A live TSA/OCSP/CRL (certomancer, tests/ltv/pki.py) and an authority signing against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_authority
from tests.ltv.pki import LivePki, live_pki


@pytest.fixture(scope="session")
def pki_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki") / "keys"


@pytest.fixture(scope="session")
def pki(pki_keys: Path) -> Iterator[LivePki]:
    with live_pki(pki_keys) as live:
        yield live


def configure(home: Path, pki: LivePki, profile: str, *, tsa_url: str | None = None) -> None:
    """Every document type signed at ``profile`` against the live TSA."""
    (home / "keys" / "tsa-roots.pem").write_bytes(pki.pem("root"))
    settings = {"default_profile": profile, "tsa_url": tsa_url or pki.tsa_url}
    (home / "signing.json").write_text(json.dumps(settings))


@pytest.fixture(scope="session")
def ltv_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ltv") / "home"
    make_authority(home)
    return home
