"""Verifier fixtures: a verifier over the session authority's published folder, and a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import Issued
from verifier.app import create_app
from verifier.config import VerifierConfig
from verifier.engine import Limits, Verifier, build_verifier
from verifier.status import IssuerTrust
from verifier.store import open_store


def verifier_config(issued: Issued, tmp: Path, **extra: Any) -> dict[str, Any]:
    return {
        "issuers": [
            {
                "name": "demo",
                "trust_dir": str(issued.home / "keys"),
                "source": str(issued.published),
            }
        ],
        "counts_db": str(tmp / "counts.sqlite"),
        **extra,
    }


def engine_over(issued: Issued, tmp: Path) -> Verifier:
    """The verification engine alone, over ``issued``'s published folder (store under ``tmp``)."""
    cfg = VerifierConfig.from_dict(verifier_config(issued, tmp))
    trust = [
        IssuerTrust.from_files(i.name, list(i.roots), list(i.status_certs), i.source)
        for i in cfg.issuers
    ]
    return build_verifier(
        trust, open_store(cfg.store_location, pool_size=cfg.postgres_pool_size), Limits()
    )


@pytest.fixture
def engine(issued: Issued, tmp_path: Path) -> Verifier:
    return engine_over(issued, tmp_path)


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


@pytest.fixture
def live(issued: Issued, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(create_app(verifier_config(issued, tmp_path)))
    yield server
    server.stop()
