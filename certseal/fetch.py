"""Reading a published site's files, from a folder on disk or over HTTP, with bounded reads.

One fetcher for the status list, the transparency log and the certificates: the verifier,
the auditor and the authority (reading back what it published) all use it.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from certseal.errors import FetchError

Fetch = Callable[[str, int], bytes]
"""Fetch a file by its path under a published folder, reading at most the given bytes."""


def published_fetcher(source: str, folder: str, timeout: float = 10.0) -> Fetch:
    """Read ``<folder>/<path>`` of a published site: a folder on disk or an http(s) URL.

    Reads stop at the given limit; paths that would leave the folder are refused.
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


def _http_fetch(base: str, timeout: float) -> Fetch:
    def fetch(path: str, limit: int) -> bytes:
        if ".." in path.split("/"):
            raise FetchError(f"refused path {path!r}")
        try:
            with urllib.request.urlopen(base + path, timeout=timeout) as resp:  # noqa: S310
                return bytes(resp.read(limit))
        except urllib.error.HTTPError as e:
            e.close()  # an HTTP error answer holds its connection open until closed
            raise FetchError(f"cannot fetch {base}{path}: {e}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise FetchError(f"cannot fetch {base}{path}: {e}") from None

    return fetch
