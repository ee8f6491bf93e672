"""Reading a published site over HTTP: a host that answers slowly, however it drips, is cut at
the fetch's deadline; one that answers normally is read whole (real servers on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from certseal import fetch as fetch_module
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


def silent(conn: socket.socket) -> None:
    """Accept, then say nothing (for longer than any timeout here)."""
    time.sleep(3)


@contextmanager
def host(answer: Answer) -> Iterator[str]:
    """A server on 127.0.0.1 answering each connection with ``answer`` in its own thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def one(conn: socket.socket) -> None:
        with conn, suppress(OSError):  # OSError: the client went away, what the test wants
            answer(conn)

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=one, args=(conn,), daemon=True).start()

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
    with host(silent) as where:
        fetch = published_fetcher(f"http://{where}", "status", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"cannot fetch http://127\.0\.0\.1:\d+/status/x"):
            fetch("x", 100)
        assert time.monotonic() - started < 3


def test_a_host_out_of_time_is_left_alone_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ask of a host that did not answer in time would hold its caller (a verifier's
    answer) for the whole timeout again: asks within ``HOLD_OFF_SECONDS`` fail at once."""
    monkeypatch.setattr(fetch_module, "HOLD_OFF_SECONDS", 1.0)
    behaviour: list[Answer] = [silent]  # says nothing, then answers
    with host(lambda conn: behaviour[0](conn)) as where:
        fetch = published_fetcher(f"http://{where}", "status", timeout=0.5)
        with pytest.raises(FetchError, match=r"no complete answer within 0\.5 s"):
            fetch("x", 100)
        behaviour[0] = whole
        started = time.monotonic()
        with pytest.raises(FetchError, match="is not asked again within 1 s") as refused:
            fetch("x", 100)
        assert time.monotonic() - started < 0.1
        assert "秒內不再向其索取" in refused.value.message("zh-TW")
        time.sleep(1.1)
        assert fetch("x", 1 << 20) == BODY
        # Another folder's fetcher (another caller) has its own record.
        assert published_fetcher(f"http://{where}", "log", timeout=0.5)("x", 1 << 20) == BODY


def test_a_host_that_drops_connections_is_cut_at_the_timeout() -> None:
    """A listener whose backlog is full drops new connections' first packets, as a host behind
    a firewall that drops them does: connecting waits, then the fetch says so."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued: list[socket.socket] = []
    while len(queued) < 16:  # fill the backlog, until a connection is no longer taken
        try:
            queued.append(socket.create_connection(("127.0.0.1", port), timeout=0.3))
        except TimeoutError:
            break
    else:
        pytest.fail("the listener took every connection: no backlog to fill")
    try:
        fetch = published_fetcher(f"http://127.0.0.1:{port}", "status", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"within 0\.5 s"):
            fetch("x", 100)
        assert time.monotonic() - started < 3
        with pytest.raises(FetchError, match="not asked again"):
            fetch("x", 100)
    finally:
        for s in queued:
            s.close()
        listener.close()


def test_a_redirect_to_another_scheme_is_not_followed() -> None:
    """A published site's host redirecting the reader to an FTP server (urllib's usual opener
    follows that) is refused, and the FTP server is never contacted."""
    ftp = socket.create_server(("127.0.0.1", 0))
    ftp.settimeout(0.5)
    target = f"ftp://127.0.0.1:{ftp.getsockname()[1]}/x"

    def redirect(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n" % target.encode()
        )

    try:
        with host(redirect) as where, pytest.raises(FetchError, match="unknown url type: ftp"):
            published_fetcher(f"http://{where}", "status", timeout=2)("x", 100)
        with pytest.raises(TimeoutError):
            ftp.accept()  # nobody came
    finally:
        ftp.close()
