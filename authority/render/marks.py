"""The school's seal and emblem, read once per process and drawn on every document.

A registrar configures them as PNG or SVG files (``School.seal_image``, ``School.emblem_image``).
An SVG stays vector graphics in the PDF; a PNG is decoded once here and embedded as an image
(its transparency as a soft mask, which PDF/A-3 allows).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from PIL.Image import Image

from certseal.errors import ConfigurationError

__all__ = ["Mark"]

_MAX_BYTES = 2_000_000  # a seal or an emblem, not a photograph


@dataclass(frozen=True)
class Mark:
    """A seal or an emblem: SVG source, or a decoded PNG."""

    path: str
    source: bytes | Image

    @classmethod
    def load(cls, path: str, what: str) -> Mark:
        """Read and check one image file.

        Raises:
            ConfigurationError: the file is missing, too large, or not a PNG or SVG image.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ConfigurationError(
                f"the {what} image {path} cannot be read: {e.strerror}",
                f"無法讀取{_ZH[what]}圖檔 {path}：{e.strerror}",
            ) from None
        if len(data) > _MAX_BYTES:
            raise ConfigurationError(
                f"the {what} image {path} is larger than 2 MB",
                f"{_ZH[what]}圖檔 {path} 超過 2 MB",
            )
        if path.lower().endswith(".svg"):
            head = data.lstrip()[:400].lower()
            if b"<svg" not in head:
                raise _not_an_image(path, what, "SVG")
            return cls(path, data)
        image: Image
        try:
            image = PILImage.open(io.BytesIO(data))
            if image.format != "PNG":
                raise _not_an_image(path, what, "PNG")
            image.load()
        except (UnidentifiedImageError, OSError, ValueError):
            raise _not_an_image(path, what, "PNG") from None
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA")
        return cls(path, image)


_ZH = {"seal": "校印", "emblem": "校徽"}


def _not_an_image(path: str, what: str, kind: str) -> ConfigurationError:
    return ConfigurationError(
        f"the {what} image {path} is not a {kind} image",
        f"{_ZH[what]}圖檔 {path} 不是 {kind} 圖片",
    )
