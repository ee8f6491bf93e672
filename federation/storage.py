"""Files in the operator's home: written durably and atomically, published history never
rewritten."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from certseal.errors import ConfigurationError


def write_file(path: Path, data: bytes) -> None:
    """Write durably and atomically: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_once(path: Path, data: bytes) -> None:
    """Write a file that, once there, never changes: the same bytes again are a no-op."""
    if path.exists():
        if path.read_bytes() != data:
            raise ConfigurationError(
                f"{path} already exists with other content: published history is never rewritten",
                f"{path} 已存在且內容不同：已公布的紀錄不可改寫",
            )
        return
    write_file(path, data)
