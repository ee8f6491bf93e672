"""The document layouts, one module each, by document type code.

A layout draws a whole document onto a :class:`~authority.render.document.Document` whose fonts
are set up already, from the document's content and the QR code of the verification site.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import Document
from authority.render.layouts.degree_certificate_en import degree_certificate_en
from authority.render.layouts.degree_certificate_zh_en import degree_certificate_zh_en
from authority.render.layouts.diploma_en import diploma_en
from authority.render.layouts.diploma_zh import diploma_zh
from authority.render.layouts.rank_certificate import rank_certificate
from authority.render.layouts.transcript import transcript

__all__ = ["LAYOUTS", "Layout"]

Layout = Callable[[Document, DocumentContent, Image], None]

LAYOUTS: dict[str, Layout] = {
    "diploma_zh": diploma_zh,
    "diploma_en": diploma_en,
    "transcript": transcript,
    "rank_certificate": rank_certificate,
    "degree_certificate_en": degree_certificate_en,
    "degree_certificate_zh_en": degree_certificate_zh_en,
}
