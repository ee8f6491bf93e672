"""The renderer: checks every character against the fonts, then lays a document out.

One :class:`Renderer` is made per process and reused: it parses each font once, and builds the
per-document font subsets from glyphs it has already prepared (see :mod:`authority.fonts`), so a
diploma takes a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import threading

import qrcode
from PIL.Image import Image

from authority.content import DocumentContent
from authority.fonts import FontSet, default_font_set, describe
from authority.fonts import coverage as font_coverage
from authority.render._fpdf import LockKeys, SharedFace
from authority.render.document import SERIF, Document
from authority.render.layouts import LAYOUTS, Layout
from authority.render.wording import printed_fields
from certseal.errors import RenderError

__all__ = ["Renderer"]

TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")


class Renderer:
    """Renders :class:`DocumentContent` as unsigned PDF bytes.

    Create one per process and reuse it: the fonts are parsed here, once. Thread-safe.

    Args:
        fonts: the faces to set documents in; the system's Noto Serif CJK TC and HanaMin
            by default.

    Raises:
        ConfigurationError: a font file is missing or unreadable.
    """

    def __init__(self, fonts: FontSet | None = None) -> None:
        self.fonts = fonts if fonts is not None else default_font_set()
        self.fonts.check()
        self._regular = SharedFace.load(self.fonts.regular, SERIF, "")
        self._bold = SharedFace.load(self.fonts.bold, SERIF, "B")
        self._primary: set[int] = self._regular.code_points & self._bold.code_points
        self._fallbacks: dict[int, SharedFace] = {}
        self._lock = threading.Lock()
        self._qr: dict[str, Image] = {}
        self._keys: LockKeys | None = None

    def render(self, content: DocumentContent, *, print_locked: bool) -> bytes:
        """The document as an unsigned PDF.

        Args:
            content: what the document says.
            print_locked: encrypt so that it opens without a password but cannot be printed,
                copied or changed (NTNU's electronic transcripts and certificates).

        Raises:
            RenderError: a character no font has (naming it and its field), text that does
                not fit its page, or a date the ROC calendar cannot write (CalendarError).
        """
        layout = LAYOUTS.get(content.doc_type.code)
        if layout is None:
            raise RenderError(
                f"no layout for document type '{content.doc_type.code}'",
                f"文件類型「{content.doc_type.code}」沒有版面",
            )
        fallbacks = self._fallbacks_for(content)
        doc = Document()
        try:
            return self._render(doc, content, layout, fallbacks, print_locked)
        finally:
            doc.close_fonts()

    def _render(
        self,
        doc: Document,
        content: DocumentContent,
        layout: Layout,
        fallbacks: list[SharedFace],
        print_locked: bool,
    ) -> bytes:
        doc.add_shared_font(self._regular)
        doc.add_shared_font(self._bold)
        for face in fallbacks:
            doc.add_shared_font(face)
        if fallbacks:
            doc.set_fallback_fonts([face.family for face in fallbacks], exact_match=False)
        number = content.document_number
        doc.set_title(f"{content.doc_type.name_en} {number}")
        doc.set_subject(f"{content.doc_type.name_zh} {number}")
        doc.set_author(content.school.name_en)
        doc.set_creator("certseal")
        doc.set_lang("zh-TW")
        # Noon in Taipei: the same calendar day whether a reader shows it in local time or UTC.
        doc.set_creation_date(dt.datetime.combine(content.issued_on, dt.time(12), TAIPEI))
        layout(doc, content, self._qr_image(content.school.verify_url))
        _check_glyphs(doc)
        if print_locked:
            doc.lock_printing(self._lock_keys())
        return doc.to_pdf()

    def _lock_keys(self) -> LockKeys:
        with self._lock:
            if self._keys is None:
                self._keys = LockKeys.generate()
            return self._keys

    def _fallbacks_for(self, content: DocumentContent) -> list[SharedFace]:
        """Check every printed character; return the fallback faces the document needs."""
        needed: set[int] = set()
        for name, text in printed_fields(content):
            for char in text:
                if ord(char) in self._primary:
                    continue
                for n, face in enumerate(self.fonts.fallbacks):
                    if ord(char) in font_coverage(face):
                        needed.add(n)
                        break
                else:
                    raise RenderError(
                        f"field {name} contains {describe(char)}, a character none of the "
                        "fonts has; it cannot be printed",
                        f"欄位 {name} 含有 {describe(char)}，字型中沒有此字，無法列印",
                    )
        return [self._fallback(n) for n in sorted(needed)]

    def _fallback(self, n: int) -> SharedFace:
        with self._lock:
            if n not in self._fallbacks:
                self._fallbacks[n] = SharedFace.load(self.fonts.fallbacks[n], f"fallback{n}", "")
            return self._fallbacks[n]

    def _qr_image(self, url: str) -> Image:
        image = self._qr.get(url)
        if image is None:
            # Four pixels a module: sharp in viewers that smooth upscaled images, small to
            # embed. Grayscale, because fpdf2 spends far longer re-encoding 1-bit images.
            code = qrcode.QRCode(
                error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=0
            )
            code.add_data(url)
            code.make(fit=True)
            image = code.make_image().get_image().convert("L")
            self._qr[url] = image
        return image


def _check_glyphs(doc: Document) -> None:
    """Refuse a document in which fpdf2 met a character without a glyph (fixed wording)."""
    missing = doc.missing_glyphs()
    if missing:
        chars = ", ".join(describe(chr(code)) for code in missing)
        raise RenderError(
            f"the document's wording contains characters the fonts lack: {chars}",
            f"文件固定文字含有字型中沒有的字：{chars}",
        )
