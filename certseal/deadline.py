"""A whole exchange over blocking sockets within a time, however slowly the other side answers.

A socket's timeout bounds each wait for data, not the whole: a server that sends a byte (or an
SMTP continuation line) every few seconds holds its reader for as long as it likes. A
:class:`Deadline` is a watchdog: when its time is up it shuts down the sockets registered with
it, which ends a read or a write in progress (a TLS handshake's included) at once; the caller
then sees an ``OSError`` or EOF and asks :attr:`Deadline.expired` whether that was the deadline.

Used by the HTTP fetcher (``certseal/fetch.py``) and delivery's SMTP sender.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

# The deadline the exchange this thread runs is under: sockets it opens register with it.
_current = threading.local()


class Deadline:
    """``with Deadline(seconds) as d:`` bounds the block's socket I/O as a whole.

    Sockets register with :meth:`add`, or, when a library opens them out of sight, with the
    module's :func:`watch` from a hook (``WatchedSSLSocket`` does so for TLS)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._outer: Deadline | None = None

    def __enter__(self) -> Deadline:
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.deadline = self._outer

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def add(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down at this deadline (at once, if it has passed)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)


def watch(sock: socket.socket) -> None:
    """Shut ``sock`` down at the deadline of the exchange this thread runs, if any."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.add(sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS one: the pending read then ends. A socket
    # since closed or detached (wrapped in TLS) has no descriptor left: nothing to shut.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class WatchedSSLSocket(ssl.SSLSocket):
    """Registered before its handshake (``SSLContext.sslsocket_class``), so that a server that
    drips its handshake is cut at the deadline too."""

    def do_handshake(self, block: bool = False) -> None:
        watch(self)
        super().do_handshake(block)


def watched(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context``, its TLS sockets registered with the thread's deadline before handshaking."""
    context.sslsocket_class = WatchedSSLSocket
    return context
