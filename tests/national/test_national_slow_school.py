"""A school's host that answers slowly holds no answer but the one that refreshes its list: the
others answer from the list held (real HTTP server on 127.0.0.1, real national verifier)."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.national.conftest import CLOCK, National, Schools, make_national
from verifier import status

SLOW_SECONDS = 3.0


class SlowHost:
    """Serves the schools' sites; while ``slow`` names a path prefix, a request under it waits
    ``SLOW_SECONDS`` before its answer (an honest host on a bad day)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.slow: str | None = None
        self.waiting = threading.Event()  # a request is being held
        host = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                if host.slow is not None and self.path.startswith(host.slow):
                    host.waiting.set()
                    time.sleep(SLOW_SECONDS)
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def slow_host(tmp_path: Path, schools: Schools) -> Iterator[SlowHost]:
    root = tmp_path / "www"
    shutil.copytree(schools.sites, root)
    host = SlowHost(root)
    thread = threading.Thread(target=host.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()
        thread.join()


def _national(schools: Schools, host: SlowHost, tmp_path: Path) -> National:
    n = make_national(schools, (host.root, host.url), tmp_path)
    n.publish()
    return n


def _while_one_waits_on_the_host(
    n: National, doc: bytes, client: FlaskClient, slow_host: SlowHost
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """One answer in a thread until it asks the slow host; then a second answer, timed.
    Returns the first answer (once it is done), the second, and the second's seconds."""
    first: dict[str, Any] = {}
    waiting = threading.Thread(target=lambda: first.update(n.verify(doc, client)))
    waiting.start()
    assert slow_host.waiting.wait(10), "the answer never asked the school's host"
    started = time.monotonic()
    second = n.verify(doc, client)
    took = time.monotonic() - started
    waiting.join(30)
    return first, second, took


def test_a_slow_school_host_holds_only_the_answer_that_refreshes(
    slow_host: SlowHost, schools: Schools, tmp_path: Path
) -> None:
    """Before, every answer for that school waited for the one refreshing its list."""
    n = _national(schools, slow_host, tmp_path)
    now = [CLOCK]
    client = n.app(clock=lambda: now[0])
    code = sorted(schools.docs)[-1]
    doc = schools.docs[code]["genuine"]
    try:
        assert n.verify(doc, client)["result"] == "success"  # its list is loaded and held
        slow_host.slow = f"/{code}/status/"
        now[0] = CLOCK + dt.timedelta(seconds=61)  # every list is due for a refresh
        first, second, took = _while_one_waits_on_the_host(n, doc, client, slow_host)
        assert second["result"] == "success", second
        assert took < SLOW_SECONDS / 2, f"the second answer waited {took:.1f} s for the refresh"
        assert first["result"] == "success", first  # the refresh itself still succeeds
    finally:
        slow_host.slow = None


def test_with_no_list_held_an_answer_waits_a_bounded_time(
    slow_host: SlowHost, schools: Schools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The school's first load is slow: an answer with nothing to answer from waits at most
    ``LOAD_WAIT_SECONDS``, then says the list is unavailable (503), never hangs."""
    monkeypatch.setattr(status, "LOAD_WAIT_SECONDS", 0.5)
    n = _national(schools, slow_host, tmp_path)
    client = n.app()
    code = sorted(schools.docs)[-1]
    doc = schools.docs[code]["genuine"]
    slow_host.slow = f"/{code}/status/"
    try:
        first, second, took = _while_one_waits_on_the_host(n, doc, client, slow_host)
        assert took < SLOW_SECONDS / 2, f"the answer waited {took:.1f} s"
        assert second["http"] == 503 and "status_unavailable" in [
            r["code"] for r in second["reasons"]
        ], second
        assert first["result"] == "success", first  # the slow load itself completes
    finally:
        slow_host.slow = None
