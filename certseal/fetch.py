"""Reading a published site's files, from a folder on disk or over HTTP, with bounded reads.

One fetcher for the status list, the transparency log and the certificates: the verifier,
the auditor and the authority (reading back what it published) all use it.
"""

from __future__ import annotations

import functools
import http.client
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from certseal.deadline import Deadline, watch, watched
from certseal.errors import FetchError

Fetch = Callable[[str, int], bytes]
"""Fetch a file by its path under a published folder, reading at most the given bytes."""


def published_fetcher(source: str, folder: str, timeout: float = 10.0) -> Fetch:
    """Read ``<folder>/<path>`` of a published site: a folder on disk or an http(s) URL.

    Reads stop at the given limit; paths that would leave the folder are refused. Over HTTP,
    ``timeout`` bounds each file's whole fetch (connecting, the headers and the body), not
    only each wait for data.
    """
    if source.startswith(("http://", "https://")):
        return _http_fetch(f"{source.rstrip('/')}/{folder}/", timeout)
    return _file_fetch((Path(source) / folder).resolve())


def _file_fetch(base: Path) -> Fetch:
    @functools.lru_cache(maxsize=1024)
    def folder_inside(folder: str) -> bool:
        resolved = (base / folder).resolve()
        return resolved == base or base in resolved.parents

    def fetch(path: str, limit: int) -> bytes:
        # Each folder is resolved once: an audit reads tens of thousands of files from a few
        # folders. A file whose name is not a plain one, or is a link, is resolved in full.
        folder, _, name = path.rpartition("/")
        target = base / path
        if name in ("", ".", "..") or not folder_inside(folder) or os.path.islink(target):
            target = target.resolve()
            if base not in target.parents:
                raise FetchError(f"refused path {path!r}")
        try:
            with open(target, "rb") as f:
                # read(limit) would allocate the whole limit (megabytes) for a small file.
                size = os.fstat(f.fileno()).st_size
                return f.read(min(limit, size + 1) if size else limit)
        except OSError as e:
            raise FetchError(f"cannot read {target}: {e.strerror}") from None

    return fetch


# After a fetch that ran out of time, the host is not asked again for this long: each ask
# would hold its caller (a verifier's answer) for the whole timeout again.
HOLD_OFF_SECONDS = 30.0


def _http_fetch(base: str, timeout: float) -> Fetch:
    quiet_until = 0.0  # while a host that did not answer in time is left alone

    def fetch(path: str, limit: int) -> bytes:
        nonlocal quiet_until
        if ".." in path.split("/"):
            raise FetchError(f"refused path {path!r}")
        url = base + path
        if time.monotonic() < quiet_until:
            raise FetchError(
                f"cannot fetch {url}: the host did not answer within {timeout:g} s a moment "
                f"ago, and is not asked again within {HOLD_OFF_SECONDS:g} s of that",
                f"無法取得 {url}：該主機稍早未在 {timeout:g} 秒內回應，"
                f"{HOLD_OFF_SECONDS:g} 秒內不再向其索取",
            )
        deadline = Deadline(timeout)
        try:
            with deadline, _opener().open(url, timeout=timeout) as resp:
                data = bytes(resp.read(limit))
        except urllib.error.HTTPError as e:
            e.close()  # an HTTP error answer holds its connection open until closed
            raise FetchError(f"cannot fetch {url}: {e}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            if deadline.expired or _timed_out(e):
                quiet_until = time.monotonic() + HOLD_OFF_SECONDS
                raise _late(url, timeout) from None
            raise FetchError(f"cannot fetch {url}: {e}") from None
        if deadline.expired:  # cut short by the deadline: what came is not the whole file
            quiet_until = time.monotonic() + HOLD_OFF_SECONDS
            raise _late(url, timeout)
        return data

    return fetch


def _timed_out(error: BaseException) -> bool:
    """A wait for the host ran out (connecting to a host that drops packets, most often)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, TimeoutError)


def _late(url: str, seconds: float) -> FetchError:
    # Each wait for data is bounded by the socket's timeout, the whole by the deadline: a host
    # that drips its answer would otherwise hold a reader (and a verifier's refresh, and the
    # answers waiting on it) for as long as it likes.
    return FetchError(
        f"cannot fetch {url}: no complete answer within {seconds:g} s",
        f"無法取得 {url}：{seconds:g} 秒內未收到完整回應",
    )


class _WatchedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        watch(self.sock)


class _WatchedHTTP(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_WatchedHTTPConnection, req)


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    """urllib's opener for HTTP and HTTPS only (redirects, proxies from the environment,
    verified TLS), its connections watched by the fetch's deadline.

    Only those two: urllib's usual opener also follows a redirect to ``ftp://`` (a published
    site's host could send the reader to any FTP server its network reaches) and opens
    ``file:`` and ``data:`` addresses."""
    context = watched(ssl.create_default_context())
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),  # any other scheme: "unknown url type"
        _WatchedHTTP(),
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
