"""Reading a published site over HTTP: a host that answers slowly, however it drips, is cut at
the fetch's deadline; one that answers normally is read whole (real servers on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from certseal.errors import FetchError
from certseal.fetch import published_fetcher

BODY = b"x" * 5000
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
# A TLS handshake record announcing 16,000 bytes: a client waits for all of them.
TLS_RECORD = b"\x16\x03\x03\x3e\x80"

Answer = Callable[[socket.socket], None]


def drip(data: bytes, pause: float) -> Answer:
    """Send ``data`` one byte at a time, ``pause`` seconds apart: each wait for data is short,
    the whole is long."""

    def answer(conn: socket.socket) -> None:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(pause)

    return answer


def whole(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(HEAD + BODY)


@contextmanager
def host(answer: Answer) -> Iterator[str]:
    """A server on 127.0.0.1 answering each connection with ``answer`` (until the test ends)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    answer(conn)
                    done.wait(10)
                except OSError:
                    pass  # the client went away: what the test wants

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_a_whole_answer_is_read() -> None:
    with host(whole) as where:
        fetch = published_fetcher(f"http://{where}", "status", timeout=2)
        assert fetch("timestamp.json", 1 << 20) == BODY


@pytest.mark.parametrize(
    ("scheme", "answer"),
    [
        ("http", drip(HEAD, 0.1)),  # the headers, a byte at a time
        ("http", drip(HEAD + BODY, 0.05)),  # the body, a byte at a time
        ("https", drip(TLS_RECORD + b"\x02" * 16000, 0.1)),  # the TLS handshake
    ],
    ids=["headers", "body", "tls-handshake"],
)
def test_a_host_that_drips_is_cut_at_the_deadline(scheme: str, answer: Answer) -> None:
    """Every wait for data is a tenth of the timeout; before, such a host held the reader (and
    a verifier's refresh of its list) for as long as it went on sending."""
    with host(answer) as where:
        fetch = published_fetcher(f"{scheme}://{where}", "status", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"no complete answer within 1 s"):
            fetch("timestamp.json", 1 << 20)
        assert time.monotonic() - started < 3


def test_a_host_that_never_answers_is_cut_at_the_deadline() -> None:
    with host(lambda conn: None) as where:
        fetch = published_fetcher(f"http://{where}", "status", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"cannot fetch http://127\.0\.0\.1:\d+/status/x"):
            fetch("x", 100)
        assert time.monotonic() - started < 3
