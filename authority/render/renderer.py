"""The renderer: checks every character against the fonts, then lays a document out.

One :class:`Renderer` is made per process and reused: it parses each font once, and builds the
per-document font subsets from glyphs it has already prepared (see :mod:`authority.fonts`), so a
diploma takes a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import qrcode
from PIL.Image import Image

from authority.content import DocumentContent
from authority.fonts import FontSet, default_font_set, describe
from authority.fonts import coverage as font_coverage
from authority.render._fpdf import ImageStore, LockKeys, SharedFace
from authority.render.archive import xmp
from authority.render.document import SERIF, Document
from authority.render.layouts import LAYOUTS, Layout
from authority.render.marks import Mark
from authority.render.wording import printed_fields
from certseal.errors import ConfigurationError, RenderError

__all__ = ["Attachment", "Renderer"]


@dataclass(frozen=True)
class Attachment:
    """A file embedded in an archival document, associated with the whole of it (PDF/A-3):
    the machine-readable twin of the document (``authority.twin``)."""

    name: str
    data: bytes
    mime: str
    description: str


TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")
_CREATOR = "certseal"


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
        self._marks: dict[str, Mark] = {}
        self._images = ImageStore()  # the QR codes, seal and emblem, encoded or drawn once
        self._keys: LockKeys | None = None

    def render(
        self,
        content: DocumentContent,
        *,
        print_locked: bool,
        attachment: Attachment | None = None,
    ) -> bytes:
        """The document as an unsigned PDF.

        Args:
            content: what the document says.
            print_locked: encrypt so that it opens without a password but cannot be printed,
                copied or changed (NTNU's electronic transcripts and certificates). A document
                that is not print-locked is archival, PDF/A-3b (which forbids encryption).
            attachment: for an archival document, its machine-readable twin, embedded as an
                associated file (and so covered by the signature added afterwards).

        Raises:
            RenderError: a character no font has (naming it and its field), text that does
                not fit its page, or a date the ROC calendar cannot write (CalendarError); an
                attachment asked of a print-locked document.
            ConfigurationError: the school's seal or emblem image cannot be read.
        """
        if print_locked and attachment is not None:
            raise RenderError(
                "a print-locked document cannot carry a machine-readable twin: PDF/A, which "
                "attachments need, forbids encryption",
                "列印鎖定的文件無法附帶機器可讀副本：附件所需的 PDF/A 不允許加密",
            )
        layout = LAYOUTS.get(content.doc_type.code)
        if layout is None:
            raise RenderError(
                f"no layout for document type '{content.doc_type.code}'",
                f"文件類型「{content.doc_type.code}」沒有版面",
            )
        fallbacks = self._fallbacks_for(content)
        doc = Document()
        doc.store = self._images
        doc.seal_mark = self._mark(content.school.seal_image, "seal")
        doc.emblem_mark = self._mark(content.school.emblem_image, "emblem")
        try:
            return self._render(doc, content, layout, fallbacks, print_locked, attachment)
        finally:
            doc.close_fonts()

    def _render(
        self,
        doc: Document,
        content: DocumentContent,
        layout: Layout,
        fallbacks: list[SharedFace],
        print_locked: bool,
        attachment: Attachment | None,
    ) -> bytes:
        doc.add_shared_font(self._regular)
        doc.add_shared_font(self._bold)
        for face in fallbacks:
            doc.add_shared_font(face)
        if fallbacks:
            doc.set_fallback_fonts([face.family for face in fallbacks], exact_match=False)
        number = content.document_number
        title = f"{content.doc_type.name_en} {number}"
        subject = f"{content.doc_type.name_zh} {number}"
        # Noon in Taipei: the same calendar day whether a reader shows it in local time or UTC.
        created = dt.datetime.combine(content.issued_on, dt.time(12), TAIPEI)
        doc.set_title(title)
        doc.set_subject(subject)
        doc.set_author(content.school.name_en)
        doc.set_creator(_CREATOR)
        doc.set_lang("zh-TW")
        doc.set_creation_date(created)
        layout(doc, content, self._qr_image(content.school.verify_url))
        _check_glyphs(doc)
        if print_locked:
            doc.lock_printing(self._lock_keys())
        else:
            metadata = xmp(
                title=title,
                subject=subject,
                author=content.school.name_en,
                creator=_CREATOR,
                created=created,
            )
            doc.make_archival(metadata)
            if attachment is not None:
                doc.attach(
                    attachment.name,
                    attachment.data,
                    mime=attachment.mime,
                    description=attachment.description,
                    modified=created,
                )
        return doc.to_pdf()

    def _mark(self, path: str, what: str) -> Mark | None:
        """The seal or emblem at ``path``, read and checked once per process."""
        if not path:
            return None
        with self._lock:
            mark = self._marks.get(path)
        if mark is None:
            mark = Mark.load(path, what)
            try:
                scratch = Document()
                scratch.add_page()
                scratch.mark(mark, 0, 0, 20)
            except Exception as e:  # fpdf2 raises many kinds on a malformed image
                raise ConfigurationError(
                    f"the {what} image {path} cannot be drawn: {e}",
                    f"{'校印' if what == 'seal' else '校徽'}圖檔 {path} 無法繪製：{e}",
                ) from None
            with self._lock:
                self._marks[path] = mark
        return mark

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
