"""Lay out one document as an unsigned A4 PDF; signing happens afterwards, on these bytes.

One :class:`Renderer` is made per process and reused: it parses each font once, and builds the
per-document font subsets from glyphs it has already prepared (see :mod:`authority.fonts`), so a
diploma takes a few milliseconds. Every character that will be printed is checked against the
fonts before anything is laid out: a name with a character no font has is refused with its code
point and field, never printed as an empty box.

The layouts follow what Taiwanese registrars issue: a traditional Chinese diploma (學位證書) with
the wording of the Degree Conferral Act, an English diploma, a bilingual transcript paginated with
the holder and document number on every page, a bachelor's rank certificate and an English degree
certificate. Every page carries the document number and the verification site as text and as a
QR code; every document has a seal area and says when it is a reissue.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import qrcode
from fontTools import ttLib
from fpdf import FPDF
from fpdf.encryption import StandardSecurityHandler
from fpdf.enums import AccessPermission, EncryptionMethod, PDFResourceType
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFCatalog, PDFFont, PDFFontStream
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFString
from PIL.Image import Image

from authority.content import DocumentContent
from authority.fonts import (
    CidCffSubsetter,
    FontFace,
    FontSet,
    TrueTypeSubsetter,
    default_font_set,
    describe,
)
from authority.fonts import coverage as font_coverage
from authority.records import Course
from certseal.errors import RenderError

__all__ = ["Renderer", "roc_date"]

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 20.0
CONTENT_W = PAGE_W - 2 * MARGIN
PT = 25.4 / 72  # millimetres per point

INK = (25, 25, 25)
GREY = (95, 95, 95)
RULE = (150, 150, 150)
FRAME = (128, 96, 40)
SEAL_RED = (178, 34, 34)
HEADER_FILL = (236, 236, 236)
TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")

_SERIF = "serif"  # font family of the regular and bold faces

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ZH_DIGITS = "零一二三四五六七八九"
_PROGRAM_BY_LEVEL = {"bachelor": "學士班", "master": "碩士班", "doctoral": "博士班"}

# Line breaking: these never start a line, those never end one.
_CLOSERS = frozenset("，。、；：！？）」』】〉》,.;:!?)]}%")
_OPENERS = frozenset("（「『【〈《([{")


# --- dates and numbers -----------------------------------------------------------------------


def _zh_number(n: int) -> str:
    """1 to 999 in Chinese numerals, as dates are written: 八十九, 一百一十五, 一百零五."""
    if not 0 < n < 1000:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _ZH_DIGITS[hundreds] + "百"
        if tens == 0 and ones:
            return out + "零" + _ZH_DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _ZH_DIGITS[tens]) + "十"
    if ones:
        out += _ZH_DIGITS[ones]
    return out


def roc_date(date: dt.date, *, chinese_numerals: bool = False) -> str:
    """A date in the ROC calendar, ``中華民國 115 年 6 月 20 日``; in Chinese numerals on diplomas.

    Raises:
        RenderError: the date is before the Republic (1912), which the calendar cannot express.
    """
    year = date.year - 1911
    if year < 1:
        raise RenderError(
            f"{date.isoformat()} is before 1912 and has no ROC year",
            f"{date.isoformat()} 早於民國元年",
        )
    if chinese_numerals:
        return f"中華民國{_zh_number(year)}年{_zh_number(date.month)}月{_zh_number(date.day)}日"
    return f"中華民國 {year} 年 {date.month} 月 {date.day} 日"


def _en_date(date: dt.date) -> str:
    return f"{_MONTHS[date.month - 1]} {date.day}, {date.year}"


def _date(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def _term_en(term: str) -> str:
    """``114-1`` (ROC academic year 114, first semester) is Fall 2025; ``114-2`` Spring 2026."""
    year, semester = term.split("-")
    start = int(year) + 1911
    return f"Fall {start}" if semester == "1" else f"Spring {start + 1}"


_GRADE_EN = {"抵免": "Waived", "通過": "Pass", "停修": "Withdrawn"}
_LETTERS = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-")


def _earns_credit(grade: str, level: str) -> bool:
    """Whether a grade earns its credits: 60 or C- for bachelor's, 70 or B- for graduate study."""
    grade = grade.strip()
    graduate_study = level != "bachelor"
    if grade.isdigit():
        return int(grade) >= (70 if graduate_study else 60)
    if grade in ("抵免", "通過", "P"):
        return True
    return grade in _LETTERS[: 6 if graduate_study else 9]


# --- what gets printed -----------------------------------------------------------------------

_PERSON = ("name_zh", "name_en", "student_id")
_STUDY_ZH = ("college_zh", "department_zh", "degree_zh")
_STUDY_EN = ("college_en", "department_en", "degree_en")
_PRINTED_GRADUATE_FIELDS: dict[str, tuple[str, ...]] = {
    "diploma_zh": ("name_zh", *_STUDY_ZH, "program"),
    "diploma_en": ("name_en", *_STUDY_EN),
    "transcript": (*_PERSON, *_STUDY_ZH, *_STUDY_EN),
    "rank_certificate": (*_PERSON, *_STUDY_ZH, *_STUDY_EN),
    "degree_certificate_en": ("name_en", "student_id", *_STUDY_EN),
}
_PRINTED_SCHOOL_FIELDS = (
    "name_zh",
    "name_en",
    "president_zh",
    "president_en",
    "registrar_zh",
    "registrar_en",
    "verify_url",
)
_COURSE_FIELDS = ("term", "course_code", "course_zh", "course_en", "grade")


def _printed_fields(content: DocumentContent) -> Iterator[tuple[str, str]]:
    """(field, text) for every piece of record or setting text the document prints."""
    graduate = content.graduate
    for name in _PRINTED_GRADUATE_FIELDS[content.doc_type.code]:
        yield name, str(getattr(graduate, name))
    for name in _PRINTED_SCHOOL_FIELDS:
        yield f"school.{name}", str(getattr(content.school, name))
    yield "document_number", content.document_number
    if content.doc_type.code == "transcript":
        for i, course in enumerate(content.courses):
            for name in _COURSE_FIELDS:
                yield f"courses[{i}].{name}", str(getattr(course, name))


# --- fonts shared across documents -----------------------------------------------------------


def _share(template: TTFFont, number: int, reopen: FontFace | None) -> TTFFont:
    """A per-document copy of a parsed font: shares its tables, starts an empty subset.

    ``reopen`` gives the copy its own fontTools object, for fonts that fpdf2 subsets itself:
    its subsetter cuts the font in place, which must never happen to the shared one.
    """
    font = TTFFont.__new__(TTFFont)
    for name in TTFFont.__slots__:
        if hasattr(template, name):
            setattr(font, name, getattr(template, name))
    font.i = number
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.desc = copy.copy(template.desc)
    font.subset = SubsetMap(font)
    if reopen is not None:
        font.ttfont = ttLib.TTFont(
            reopen.path, fontNumber=reopen.index, lazy=True, recalcTimestamp=False
        )
    return font


_Subsetter = CidCffSubsetter | TrueTypeSubsetter
_Layout = Callable[["_Document", DocumentContent, Image], None]


@dataclass
class _Face:
    """A face parsed for fpdf2 once, with the fast subsetter for its kind of outlines."""

    face: FontFace
    family: str
    style: str
    template: TTFFont
    subsetter: _Subsetter | None

    @property
    def key(self) -> str:
        return self.family + self.style

    @classmethod
    def load(cls, face: FontFace, family: str, style: str) -> _Face:
        scratch = FPDF()
        scratch.add_font(family, style, str(face.path), collection_font_number=face.index)
        template = scratch.fonts[family + style]
        assert isinstance(template, TTFFont)
        # fpdf2 has read what layout needs; the file is read again only to embed the font.
        template.ttfont.close()
        subsetter: _Subsetter | None = None
        if template.is_cff and template.is_cid_keyed:
            subsetter = CidCffSubsetter(face)
        elif not template.is_cff:
            subsetter = TrueTypeSubsetter(face)
        # Otherwise (a CFF font keyed by glyph names) fpdf2 subsets it, a lot more slowly.
        return cls(face, family, style, template, subsetter)


class _Document(FPDF):
    """One document being laid out; knows which of its fonts to subset the fast way."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.fast_fonts: dict[str, _Subsetter] = {}
        self.opened: list[ttLib.TTFont] = []  # font files opened for this document alone
        self.set_auto_page_break(False)
        self.set_margins(0, 0, 0)
        self.c_margin = 0

    def add_shared_font(self, face: _Face) -> None:
        reopen = face.face if face.subsetter is None else None
        shared = _share(face.template, len(self.fonts) + 1, reopen)
        self.fonts[face.key] = shared
        if face.subsetter is None:
            self.opened.append(shared.ttfont)
        else:
            self.fast_fonts[face.key] = face.subsetter
        if shared.is_cff and shared.is_cid_keyed:
            self._set_min_pdf_version("1.6")

    # Text primitives. Positions and widths are in millimetres, font sizes in points.

    def width(self, text: str, size: float, bold: bool = False) -> float:
        font = self.fonts[_SERIF + ("B" if bold else "")]
        assert isinstance(font, TTFFont)
        cw, missing = font.cw, font.desc.missing_width
        return sum(cw.get(ord(c), missing) for c in text) * size / 1000 * PT

    def wrap(self, text: str, width: float, size: float, bold: bool = False) -> list[str]:
        """Greedy line breaking at spaces and between CJK characters; long words are split."""
        space = self.width(" ", size, bold)
        lines: list[str] = []
        current, used, spaced = "", 0.0, False
        for unit in _break_units(text):
            if unit == " ":
                spaced = bool(current)
                continue
            unit_w = self.width(unit, size, bold)
            gap = space if spaced else 0.0
            spaced = False
            if current and used + gap + unit_w <= width:
                current, used = current + (" " if gap else "") + unit, used + gap + unit_w
                continue
            if current:
                lines.append(current)
            current, used = "", 0.0
            if unit_w <= width:
                current, used = unit, unit_w
                continue
            for char in unit:  # a word longer than the line: split it anywhere
                char_w = self.width(char, size, bold)
                if current and used + char_w > width:
                    lines.append(current)
                    current, used = "", 0.0
                current, used = current + char, used + char_w
        if current:
            lines.append(current)
        return lines or [""]

    def put(
        self,
        x: float,
        y: float,
        w: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        align: str = "L",
        color: tuple[int, int, int] = INK,
        leading: float = 1.3,
        tracking: float = 0.0,
    ) -> float:
        """One line of text in a box of width ``w`` from ``(x, y)``; returns the line height.

        The text is placed as fpdf2's ``cell`` would place it, but with ``text``, which is
        several times faster; callers have wrapped it to fit already. ``tracking`` spaces the
        characters out, in ems.
        """
        height = size * PT * leading
        self.set_font(_SERIF, "B" if bold else "", size)
        self.set_text_color(*color)
        if self._fallback_font_ids and self._needs_fallback(text):
            # Only cell() looks characters up in the fallback fonts.
            self.set_xy(x, y)
            self.cell(w, height, text, align=align)
            return height
        if align != "L":
            room = w - self.width(text, size, bold) - _tracked(text, size, tracking)
            x += room / 2 if align == "C" else room
        if tracking:
            self.set_char_spacing(tracking * size)  # fpdf2 writes this as is, in points
        self.text(x, y + height / 2 + 0.3 * size * PT, text)
        if tracking:
            self.set_char_spacing(0)
        return height

    def _needs_fallback(self, text: str) -> bool:
        font = self.current_font
        assert isinstance(font, TTFFont)
        return any(ord(char) not in font.cmap for char in text)


def _tracked(text: str, size: float, tracking: float) -> float:
    """The width that spacing characters out adds to a line (none after the last one)."""
    return tracking * size * PT * max(len(text) - 1, 0)


def _break_units(text: str) -> list[str]:
    """Split text into pieces a line may break between: words, single CJK characters, spaces.

    Closing punctuation sticks to what precedes it and opening punctuation to what follows.
    """
    units: list[str] = []
    word = ""

    def push(unit: str) -> None:
        if units and units[-1] != " " and units[-1][-1] in _OPENERS:
            units[-1] += unit
        else:
            units.append(unit)

    for char in text:
        if char == " ":
            if word:
                push(word)
                word = ""
            units.append(" ")
        elif char in _CLOSERS and not word and units and units[-1] != " ":
            units[-1] += char
        elif unicodedata.east_asian_width(char) in "WF" and char not in _CLOSERS:
            if word:
                push(word)
                word = ""
            push(char)
        else:
            word += char
    if word:
        push(word)
    return units


class _OutputProducer(OutputProducer):
    """fpdf2's PDF writer, embedding font subsets cut by :mod:`authority.fonts`."""

    def _add_fonts(
        self,
        image_objects_per_index: Any,
        gfxstate_objs_per_name: Any,
        pattern_objs_per_name: Any,
    ) -> dict[int, Any]:
        pdf = self.fpdf
        assert isinstance(pdf, _Document)
        catalog = pdf._resource_catalog
        used: set[object] = {
            font_id
            for page in range(1, pdf.pages_count + 1)
            for font_id in catalog.get_resources_per_page(page, PDFResourceType.FONT)
        }
        # fpdf2 embeds every font in its registry: show it only the used ones it must subset.
        everything = catalog.font_registry
        fast = {k: f for k, f in everything.items() if k in pdf.fast_fonts and f.i in used}
        catalog.font_registry = {
            k: f for k, f in everything.items() if k not in fast and f.i in used
        }
        try:
            objects: dict[int, Any] = super()._add_fonts(
                image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name
            )
        finally:
            catalog.font_registry = everything
        for key, font in fast.items():
            assert isinstance(font, TTFFont)
            objects[font.i] = self._add_subset_font(font, pdf.fast_fonts[key])
            font.subset.pick.cache_clear()
            font.subset.get_glyph.cache_clear()
        return objects

    def _add_catalog(self) -> PDFCatalog:
        catalog = super()._add_catalog()
        if catalog.lang is not None:
            # fpdf2 leaves the /Lang string unencrypted in an encrypted file, which readers
            # then decrypt to garbage (and pyhanko cannot re-encrypt the catalog to sign it).
            catalog.lang = PDFString(catalog.lang, encrypt=True)
        return catalog

    def _add_subset_font(self, font: TTFFont, subsetter: _Subsetter) -> PDFFont:
        """A Type0 font over a subset, with the objects fpdf2 itself would write for it."""
        glyphs = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
        to_unicode = [
            f"<{code:04X}> <{''.join(map(chr, glyph.unicode)).encode('utf-16-be').hex().upper()}>"
            for glyph, code in glyphs
            if isinstance(glyph.unicode, tuple) and glyph.unicode
        ]
        if isinstance(subsetter, CidCffSubsetter):
            # Codes map to CIDs through an embedded CMap; the CFF charset maps CIDs to glyphs.
            cids = {code: _cid(glyph.glyph_name) for glyph, code in glyphs}
            program = subsetter.subset(cids.values())
            widths = {cids[code]: glyph.glyph_width for glyph, code in glyphs}
        else:
            # Codes are CIDs (Identity-H); CIDToGIDMap maps them to the renumbered glyphs.
            unicodes = {glyph.glyph_id: _codepoints(glyph.unicode) for glyph, _ in glyphs}
            program, renumber = subsetter.subset(unicodes)
            gids = {code: renumber[glyph.glyph_id] for glyph, code in glyphs}
            widths = {code: glyph.glyph_width for glyph, code in glyphs}
        # A subset's name starts with six capitals that differ between different subsets.
        digest = hashlib.sha256(program).digest()
        name = "".join(chr(ord("A") + b % 26) for b in digest[:6]) + "+" + font.name

        type0 = PDFFont(subtype="Type0", base_font=name, encoding="Identity-H")
        self._add_pdf_obj(type0, "fonts")
        cid_font = PDFFont(
            subtype="CIDFontType0" if isinstance(subsetter, CidCffSubsetter) else "CIDFontType2",
            base_font=name,
            d_w=font.desc.missing_width,
            w=_widths_array(widths),
        )
        self._add_pdf_obj(cid_font, "fonts")
        type0.descendant_fonts = PDFArray([cid_font])

        unicode_map = PDFContentStream(_cmap("Adobe", "UCS", 0, "bfchar", to_unicode))
        self._add_pdf_obj(unicode_map, "fonts")
        type0.to_unicode = unicode_map

        registry, ordering, supplement = ("Adobe", "Identity", 0)
        if isinstance(subsetter, CidCffSubsetter) and font.cff_ros:
            registry, ordering, supplement = font.cff_ros
        # An indirect object, so that its strings are encrypted along with the document's.
        system_info = CIDSystemInfo()
        system_info.registry = PDFString(registry, encrypt=True)
        system_info.ordering = PDFString(ordering, encrypt=True)
        system_info.supplement = supplement
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info

        if isinstance(subsetter, CidCffSubsetter):
            entries = [f"<{code:04X}> {cid}" for code, cid in sorted(cids.items())]
            encoding = PDFContentStream(_cmap(registry, ordering, supplement, "cidchar", entries))
            encoding.type = Name("CMap")  # type: ignore[attr-defined]
            encoding.c_map_name = Name(f"{registry}-{ordering}-UCS")  # type: ignore[attr-defined]
            encoding.c_i_d_system_info = system_info  # type: ignore[attr-defined]
            self._add_pdf_obj(encoding, "fonts")
            type0.encoding = encoding  # type: ignore[assignment]
        else:
            cid_to_gid = bytearray(2 * (max(gids, default=0) + 1))
            for code, gid in gids.items():
                cid_to_gid[2 * code : 2 * code + 2] = gid.to_bytes(2, "big")
            gid_map = PDFContentStream(contents=bytes(cid_to_gid), compress=True)
            self._add_pdf_obj(gid_map, "fonts")
            cid_font.c_i_d_to_g_i_d_map = gid_map

        descriptor = font.desc
        descriptor.font_name = Name(name)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor

        stream = PDFFontStream(contents=program)
        if isinstance(subsetter, CidCffSubsetter):
            stream.subtype = Name("CIDFontType0C")  # type: ignore[attr-defined]
            self._add_pdf_obj(stream, "fonts")
            descriptor.font_file3 = stream  # type: ignore[attr-defined]
        else:
            self._add_pdf_obj(stream, "fonts")
            descriptor.font_file2 = stream  # type: ignore[attr-defined]
        return type0


def _cid(glyph_name: str) -> int:
    """The CID of a glyph of a CID-keyed CFF font as fontTools names it: cid01234 -> 1234."""
    return int(glyph_name[3:]) if glyph_name.startswith("cid") else 0


def _codepoints(unicode: int | tuple[int, ...]) -> tuple[int, ...]:
    return unicode if isinstance(unicode, tuple) else (unicode,)


def _widths_array(widths: dict[int, int]) -> str:
    runs: list[str] = []
    for cid, width in sorted(widths.items()):
        runs.append(f"{cid} [{width}]")
    return "[" + " ".join(runs) + "]"


def _cmap(registry: str, ordering: str, supplement: int, kind: str, entries: list[str]) -> bytes:
    blocks = []
    for start in range(0, len(entries), 100):  # a CMap block holds at most 100 entries
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} begin{kind}\n" + "\n".join(chunk) + f"\nend{kind}\n")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        f"/CIDSystemInfo\n<</Registry ({registry})\n/Ordering ({ordering})\n"
        f"/Supplement {supplement}\n>> def\n"
        f"/CMapName /{registry}-{ordering}-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "".join(blocks)
        + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("latin-1")


# --- the renderer ----------------------------------------------------------------------------


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
        self._regular = _Face.load(self.fonts.regular, _SERIF, "")
        self._bold = _Face.load(self.fonts.bold, _SERIF, "B")
        self._primary: set[int] = (
            self._regular.template.cmap.keys() & self._bold.template.cmap.keys()
        )
        self._fallbacks: dict[int, _Face] = {}
        self._lock = threading.Lock()
        self._qr: dict[str, Image] = {}
        self._keys: _LockKeys | None = None

    def render(self, content: DocumentContent, *, print_locked: bool) -> bytes:
        """The document as an unsigned PDF.

        Args:
            content: what the document says.
            print_locked: encrypt so that it opens without a password but cannot be printed,
                copied or changed (NTNU's electronic transcripts and certificates).

        Raises:
            RenderError: a character no font has (naming it and its field), or text that does
                not fit its page.
        """
        layout = _LAYOUTS.get(content.doc_type.code)
        if layout is None:
            raise RenderError(
                f"no layout for document type '{content.doc_type.code}'",
                f"文件類型「{content.doc_type.code}」沒有版面",
            )
        fallbacks = self._fallbacks_for(content)
        doc = _Document()
        try:
            return self._render(doc, content, layout, fallbacks, print_locked)
        finally:
            for font in doc.opened:
                font.close()

    def _render(
        self,
        doc: _Document,
        content: DocumentContent,
        layout: _Layout,
        fallbacks: list[_Face],
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
            # What FPDF.set_encryption(owner_password=<random>, user_password="",
            # encryption_method=AES_256, permissions=none()) sets up, with keys made once.
            doc._security_handler = _PrintLock(doc, self._lock_keys())
        return bytes(doc.output(output_producer_class=_OutputProducer))

    def _lock_keys(self) -> _LockKeys:
        with self._lock:
            if self._keys is None:
                self._keys = _LockKeys.generate()
            return self._keys

    def _fallbacks_for(self, content: DocumentContent) -> list[_Face]:
        """Check every printed character; return the fallback faces the document needs."""
        needed: set[int] = set()
        for name, text in _printed_fields(content):
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

    def _fallback(self, n: int) -> _Face:
        with self._lock:
            if n not in self._fallbacks:
                self._fallbacks[n] = _Face.load(self.fonts.fallbacks[n], f"fallback{n}", "")
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


@dataclass(frozen=True)
class _LockKeys:
    """AES-256 key material of print-locked documents, made once per renderer.

    Deriving the owner and user entries (ISO 32000-2 algorithm 2.B) is deliberately slow, about
    5 ms a document. With an empty user password the key protects nothing anyway: any reader
    derives it to open the file. What matters is that the owner password, which lifts the print
    lock, is random and never stored, and it is.
    """

    k: bytes
    u: str
    ue: str
    o: str
    oe: str
    perms: str

    @classmethod
    def generate(cls) -> _LockKeys:
        handler = StandardSecurityHandler(
            FPDF(),
            owner_password=secrets.token_hex(16),
            user_password="",
            permission=AccessPermission.none(),
            encryption_method=EncryptionMethod.AES_256,
        )
        handler.generate_passwords("<" + "0" * 32 + ">")
        return cls(handler.k, handler.u, handler.ue, handler.o, handler.oe, handler.perms)


class _PrintLock(StandardSecurityHandler):
    """fpdf2's AES-256 security handler (no printing, copying or changes), with given keys."""

    def __init__(self, pdf: FPDF, keys: _LockKeys) -> None:
        super().__init__(
            pdf,
            owner_password="-",  # noqa: S106 - unused: the keys come from a random one
            user_password="",
            permission=AccessPermission.none(),
            encryption_method=EncryptionMethod.AES_256,
        )
        self._keys = keys

    def generate_passwords(self, file_id: str) -> None:
        self.file_id = file_id
        self.info_id = file_id[1:33]
        self.k, self.perms = self._keys.k, self._keys.perms
        self.u, self.ue, self.o, self.oe = self._keys.u, self._keys.ue, self._keys.o, self._keys.oe


def _check_glyphs(doc: _Document) -> None:
    """Refuse a document in which fpdf2 met a character without a glyph (fixed wording)."""
    for font in doc.fonts.values():
        if isinstance(font, TTFFont) and font.missing_glyphs:
            chars = ", ".join(describe(chr(code)) for code in font.missing_glyphs)
            raise RenderError(
                f"the document's wording contains characters the fonts lack: {chars}",
                f"文件固定文字含有字型中沒有的字：{chars}",
            )


# --- layout building blocks ------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A paragraph in a flow: shrinks a step at a time, then wraps, to stay inside its box."""

    text: str
    size: float
    bold: bool = False
    align: str = "C"
    min_size: float = 0.0  # smallest size on one line before wrapping; default: size
    wrap_min: float = 0.0  # smallest size when wrapping; default: min_size
    max_lines: int = 3
    before: float = 0.0  # space above, mm
    color: tuple[int, int, int] = INK
    leading: float = 1.35
    tracking: float = 0.0  # extra space between characters, in ems; for titles on one line


def _fit(doc: _Document, block: _Block, width: float, scale: float) -> tuple[float, list[str]]:
    size = block.size * scale
    min_size = (block.min_size or block.size) * scale
    wrap_min = (block.wrap_min or block.min_size or block.size) * scale
    candidate = size
    # Widths grow with the size.
    unit_width = doc.width(block.text, 1.0, block.bold) + _tracked(block.text, 1.0, block.tracking)
    while candidate >= min_size - 1e-6:
        if unit_width * candidate <= width:
            return candidate, [block.text]
        candidate -= 1.0
    candidate = size
    while candidate >= wrap_min - 1e-6:
        lines = doc.wrap(block.text, width, candidate, block.bold)
        if len(lines) <= block.max_lines:
            return candidate, lines
        candidate -= 0.5
    return wrap_min, doc.wrap(block.text, width, wrap_min, block.bold)


_SCALES = (1.0, 0.94, 0.88, 0.82, 0.76, 0.7)


def _flow(
    doc: _Document,
    blocks: Sequence[_Block],
    x: float,
    y: float,
    width: float,
    bottom: float,
    *,
    draw: bool = True,
) -> float:
    """Set blocks one below the other from ``y``; returns where the last one ends.

    When they do not fit above ``bottom``, everything is set smaller, in steps; text that
    still does not fit is refused rather than drawn over something else.
    """
    for scale in _SCALES:
        plan = [(block, *_fit(doc, block, width, scale)) for block in blocks]
        height = sum(
            block.before * scale + len(lines) * size * PT * block.leading
            for block, size, lines in plan
        )
        if y + height <= bottom + 1e-6:
            break
    else:
        raise RenderError(
            "the document's text does not fit on its page", "文件內容超出頁面，無法排版"
        )
    if not draw:
        return y + height
    for block, size, lines in plan:
        y += block.before * scale
        for line in lines:
            y += doc.put(
                x,
                y,
                width,
                line,
                size,
                bold=block.bold,
                align=block.align,
                color=block.color,
                leading=block.leading,
                tracking=block.tracking,
            )
    return y


def _marks(doc: _Document, content: DocumentContent, y: float) -> None:
    """The document number at the top left and, on a reissue, a red mark at the top right."""
    doc.put(MARGIN - 2, y, 110, f"文件編號 No. {content.document_number}", 8, color=GREY)
    if content.version > 1:
        text = f"補發 Reissued (version {content.version})"
        width = doc.width(text, 9, bold=True) + 5
        x = PAGE_W - MARGIN + 2 - width
        doc.set_draw_color(*SEAL_RED)
        doc.set_line_width(0.35)
        doc.rect(x, y - 1, width, 6)
        doc.put(x, y - 1, width, text, 9, bold=True, align="C", color=SEAL_RED, leading=1.9)


def _seal(doc: _Document, x: float, y: float, size: float = 32.0) -> None:
    """The area for the school seal: a red double box labelled 校印 / Seal."""
    doc.set_draw_color(*SEAL_RED)
    doc.set_line_width(0.7)
    doc.rect(x, y, size, size)
    doc.set_line_width(0.25)
    doc.rect(x + 1.5, y + 1.5, size - 3, size - 3)
    doc.put(x, y + size * 0.28, size, "校印", 15, bold=True, align="C", color=SEAL_RED)
    doc.put(x, y + size * 0.58, size, "Seal", 9, align="C", color=SEAL_RED)


def _footer(
    doc: _Document,
    content: DocumentContent,
    qr: Image,
    *,
    page: int = 1,
    pages: int = 1,
    numbered: bool = False,
) -> None:
    """Verification site (text and QR code), document number, issue date, page number."""
    top = 251.0
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.2)
    doc.line(MARGIN, top, PAGE_W - MARGIN, top)
    doc.image(qr, x=MARGIN, y=top + 3, w=23, h=23)
    x = MARGIN + 27
    width = CONTENT_W - 27 - (32 if numbered else 0)
    issued = content.issued_on
    blocks = [
        _Block(
            f"驗證網站 Verification site: {content.school.verify_url}",
            8,
            bold=True,
            align="L",
            wrap_min=6.5,
            max_lines=2,
        ),
        _Block(f"文件編號 Document No.: {content.document_number}", 7.5, align="L", wrap_min=6),
        _Block(
            f"發證日期 Date of issue: {roc_date(issued)}（{_en_date(issued)}）",
            7.5,
            align="L",
            wrap_min=6,
        ),
        _Block(
            "本文件為經數位簽章之電子文件，請將原始檔案上傳至驗證網站查驗；列印或另存之檔案無法驗證。",
            6.5,
            align="L",
            color=GREY,
            wrap_min=5.5,
            before=0.8,
        ),
        _Block(
            "This document is digitally signed. To verify it, upload the original file to the "
            "verification site; printed or re-saved copies cannot be verified.",
            6.5,
            align="L",
            color=GREY,
            wrap_min=5.5,
        ),
    ]
    _flow(doc, blocks, x, top + 2.5, width, PAGE_H - 10)
    if numbered:
        right = PAGE_W - MARGIN - 30
        doc.put(right, top + 3, 30, f"第 {page} 頁／共 {pages} 頁", 8, align="R")
        doc.put(right, top + 7, 30, f"Page {page} of {pages}", 8, align="R")


def _diploma_frame(doc: _Document) -> None:
    doc.set_draw_color(*FRAME)
    doc.set_line_width(1.0)
    doc.rect(8, 8, PAGE_W - 16, PAGE_H - 16)
    doc.set_line_width(0.3)
    doc.rect(10.5, 10.5, PAGE_W - 21, PAGE_H - 21)


def _signature(doc: _Document, x: float, y: float, width: float, lines: Sequence[_Block]) -> float:
    """A signing line with the signer's name and office below it."""
    doc.set_draw_color(*INK)
    doc.set_line_width(0.3)
    doc.line(x, y, x + width, y)
    return _flow(doc, lines, x, y + 1.5, width, y + 40)


@dataclass(frozen=True)
class _Cell:
    """A labelled value: bilingual label, then value lines (each may wrap)."""

    label_zh: str
    label_en: str
    values: tuple[str, ...]
    span: int = 1  # 1: half the width, 2: the full width


_LABEL_W = 30.0
_VALUE_SIZE = 8.5


def _cell_lines(doc: _Document, cell: _Cell, width: float) -> list[tuple[str, float, bool]]:
    """(text, size, bold) lines of a cell's value; the first value is bold."""
    out: list[tuple[str, float, bool]] = []
    for n, value in enumerate(cell.values):
        size = _VALUE_SIZE if n == 0 else _VALUE_SIZE - 0.5
        for line in doc.wrap(value, width, size, n == 0):
            out.append((line, size, n == 0))
    return out


def _info_rows(
    doc: _Document, rows: Sequence[Sequence[_Cell]], y: float, *, draw: bool = True
) -> float:
    """A grid of labelled values over the content width; returns its bottom."""
    half = CONTENT_W / 2
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.2)
    if draw:
        doc.line(MARGIN, y, PAGE_W - MARGIN, y)
    for row in rows:
        layout = []
        x = MARGIN
        height = 0.0
        for cell in row:
            width = half * cell.span
            lines = _cell_lines(doc, cell, width - _LABEL_W - 2)
            value_h = sum(size * PT * 1.3 for _, size, _ in lines)
            height = max(height, value_h, 8.0 * PT * 1.3 + 6.5 * PT * 1.3)
            layout.append((x, width, cell, lines))
            x += width
        height += 2.4
        if draw:
            for x, width, cell, lines in layout:
                doc.put(x, y + 1.2, _LABEL_W, cell.label_zh, 8, bold=True, color=GREY)
                doc.put(x, y + 1.2 + 8 * PT * 1.3, _LABEL_W, cell.label_en, 6.5, color=GREY)
                line_y = y + 1.2
                for text, size, bold in lines:
                    line_y += doc.put(x + _LABEL_W, line_y, width - _LABEL_W, text, size, bold=bold)
            doc.line(MARGIN, y + height, PAGE_W - MARGIN, y + height)
        y += height
    return y


def _person_cells(content: DocumentContent) -> list[list[_Cell]]:
    g = content.graduate
    birth = _date(g.birth_date)
    graduated = _date(g.graduation_date)
    return [
        [_Cell("姓名", "Name", (g.name_zh, g.name_en), span=2)],
        [
            _Cell("學號", "Student ID", (g.student_id,)),
            _Cell("出生日期", "Date of Birth", (roc_date(birth), _en_date(birth))),
        ],
        [_Cell("學院", "College", (g.college_zh, g.college_en), span=2)],
        [_Cell("系所", "Department", (g.department_zh, g.department_en), span=2)],
        [
            _Cell("學位", "Degree", (g.degree_zh, g.degree_en)),
            _Cell("畢業日期", "Date of Graduation", (roc_date(graduated), _en_date(graduated))),
        ],
    ]


def _school_heading(
    doc: _Document, content: DocumentContent, y: float, *, draw: bool = True
) -> float:
    school = content.school
    blocks = [
        _Block(school.name_zh, 17, bold=True, min_size=13, max_lines=2),
        _Block(school.name_en, 11, min_size=9, max_lines=2),
    ]
    return _flow(doc, blocks, MARGIN, y, CONTENT_W, y + 30, draw=draw)


# --- the five layouts ------------------------------------------------------------------------


def _diploma_zh(doc: _Document, content: DocumentContent, qr: Image) -> None:
    g, school = content.graduate, content.school
    doc.add_page()
    _diploma_frame(doc)
    _marks(doc, content, 14)
    y = _flow(
        doc,
        [
            _Block(school.name_zh, 30, bold=True, min_size=22, max_lines=2, leading=1.25),
            _Block("學位證書", 38, bold=True, before=4, leading=1.3, tracking=0.6),
        ],
        MARGIN,
        30,
        CONTENT_W,
        84,
    )
    x, width = 34.0, PAGE_W - 34.0 - 28.0
    # The holder: "學生" and, after it, the name in large bold type.
    label_w = doc.width("學生　", 18)
    name = _Block(g.name_zh, 26, bold=True, align="L", min_size=18, wrap_min=14, max_lines=2)
    name_top = y + 14
    doc.put(x, name_top + 1.8, label_w, "學生", 18)
    y = _flow(doc, [name], x + label_w, name_top, width - label_w, name_top + 26)
    program = g.program.strip() or _PROGRAM_BY_LEVEL[g.level]
    birth = roc_date(_date(g.birth_date), chinese_numerals=True)

    def line(text: str, before: float = 0.0) -> _Block:
        return _Block(text, 18, align="L", min_size=15, wrap_min=13, leading=2.0, before=before)

    body = [
        line(f"係{birth}生，"),
        line(f"在本校{g.college_zh}{g.department_zh}{program}修業期滿，"),
        line("經本校審查成績及格，准予畢業，"),
        line(f"依學位授予法之規定授予{g.degree_zh}學位。"),
        line("此證", before=5),
    ]
    _flow(doc, body, x, y + 4, width, 176)
    _seal(doc, 38, 182, 34)
    doc.put(110, 194, 20, "校長", 18)
    _flow(
        doc,
        [_Block(school.president_zh, 24, bold=True, align="L", min_size=16, max_lines=2)],
        128,
        191,
        PAGE_W - 128 - 20,
        218,
    )
    graduated = roc_date(_date(g.graduation_date), chinese_numerals=True)
    doc.put(MARGIN, 228, CONTENT_W, graduated, 18, align="C")
    _footer(doc, content, qr)


def _diploma_en(doc: _Document, content: DocumentContent, qr: Image) -> None:
    g, school = content.graduate, content.school
    doc.add_page()
    _diploma_frame(doc)
    _marks(doc, content, 14)
    blocks = [
        _Block(school.name_en, 26, bold=True, min_size=20, wrap_min=16, max_lines=2),
        _Block(school.name_zh, 13, color=GREY, before=1),
        _Block("DIPLOMA", 28, bold=True, before=8),
        _Block("This is to certify that", 13, before=9),
        _Block(g.name_en, 24, bold=True, min_size=18, wrap_min=13, max_lines=3, before=4),
        _Block(f"born on {_en_date(_date(g.birth_date))},", 13, before=3),
        _Block(
            "having completed the prescribed program of study in the "
            f"{g.department_en}, {g.college_en}, and having fulfilled all the requirements, "
            "has been conferred the degree of",
            13,
            min_size=12,
            wrap_min=10,
            max_lines=4,
            before=2,
            leading=1.45,
        ),
        _Block(g.degree_en, 20, bold=True, min_size=15, wrap_min=13, max_lines=2, before=4),
        _Block(
            "with all the rights, privileges and honors pertaining thereto.",
            13,
            min_size=11,
            before=4,
        ),
        _Block(f"Conferred on {_en_date(_date(g.graduation_date))}.", 13, before=1),
    ]
    _flow(doc, blocks, MARGIN + 5, 26, CONTENT_W - 10, 186)
    _seal(doc, 36, 196, 34)
    _signature(
        doc,
        112,
        214,
        68,
        [
            _Block(school.president_en, 14, bold=True, min_size=10, max_lines=2),
            _Block("President", 11),
            _Block(school.name_en, 9, color=GREY, min_size=7, max_lines=2),
        ],
    )
    _footer(doc, content, qr)


# Transcript columns: code, title, credits, grade (widths in mm, summing to the content width).
_COLUMNS = (
    ("科目代碼", "Code", 24.0, "L"),
    ("科目名稱", "Course Title", 112.0, "L"),
    ("學分", "Credits", 16.0, "C"),
    ("成績", "Grade", 18.0, "C"),
)
_TABLE_BOTTOM = 246.0
_HEADER_H = 9.0
_BAND_H = 5.6
_ROW_PAD = 0.8
_ROW_LEADING = 1.25
_TITLE_ZH, _TITLE_EN = 8.5, 7.5


@dataclass(frozen=True)
class _Line:
    x: float  # offset in the cell
    text: str
    size: float
    bold: bool = False
    color: tuple[int, int, int] = INK


@dataclass(frozen=True)
class _Row:
    """One course, laid out: the lines of each cell, and the row's height."""

    cells: tuple[tuple[tuple[_Line, ...], ...], ...]  # per cell: lines, each a run of pieces
    height: float


@dataclass(frozen=True)
class _Band:
    """The heading of a term's courses: academic year and semester, credits earned."""

    term: str
    earned: int
    continued: bool = False

    @property
    def height(self) -> float:
        return _BAND_H


def _title_lines(doc: _Document, course: Course, width: float) -> list[tuple[_Line, ...]]:
    """The Chinese title, then the English one on the same line when both fit."""
    zh_lines = doc.wrap(course.course_zh, width, _TITLE_ZH)
    en_lines = doc.wrap(course.course_en, width, _TITLE_EN, False)
    out: list[tuple[_Line, ...]] = [(_Line(0, line, _TITLE_ZH),) for line in zh_lines[:-1]]
    last = zh_lines[-1]
    gap = doc.width("　", _TITLE_ZH)
    joined_x = doc.width(last, _TITLE_ZH) + gap
    if len(en_lines) == 1 and joined_x + doc.width(en_lines[0], _TITLE_EN) <= width:
        out.append((_Line(0, last, _TITLE_ZH), _Line(joined_x, en_lines[0], _TITLE_EN, color=GREY)))
    else:
        out.append((_Line(0, last, _TITLE_ZH),))
        out += [(_Line(0, line, _TITLE_EN, color=GREY),) for line in en_lines]
    return out


def _course_row(doc: _Document, course: Course) -> _Row:
    pad = 1.0
    grade = course.grade.strip()
    grade_lines = [(_Line(0, grade, 8.5, bold=True),)]
    if grade in _GRADE_EN:
        grade_lines.append((_Line(0, _GRADE_EN[grade], 6.5, color=GREY),))
    cells = (
        tuple((_Line(0, line, 8),) for line in doc.wrap(course.course_code, 24.0 - 2 * pad, 8)),
        tuple(_title_lines(doc, course, 112.0 - 2 * pad)),
        ((_Line(0, str(course.credits), 8.5),),),
        tuple(grade_lines),
    )
    height = max(
        sum(max(piece.size for piece in line) * PT * _ROW_LEADING for line in cell)
        for cell in cells
    )
    return _Row(cells, height + 2 * _ROW_PAD)


def _term_heading(term: str) -> str:
    year, semester = term.split("-")
    return f"{year} 學年度第 {semester} 學期　{_term_en(term)}"


def _table_header(doc: _Document, y: float) -> float:
    doc.set_fill_color(*HEADER_FILL)
    doc.rect(MARGIN, y, CONTENT_W, _HEADER_H, style="F")
    x = MARGIN
    for zh, en, width, align in _COLUMNS:
        pad = 1.0 if align == "L" else 0.0
        doc.put(x + pad, y + 0.8, width - pad, zh, 8, bold=True, align=align)
        doc.put(x + pad, y + 4.6, width - pad, en, 6.5, align=align, color=GREY)
        x += width
    doc.set_draw_color(*INK)
    doc.set_line_width(0.3)
    doc.line(MARGIN, y, PAGE_W - MARGIN, y)
    doc.line(MARGIN, y + _HEADER_H, PAGE_W - MARGIN, y + _HEADER_H)
    return y + _HEADER_H


def _table_band(doc: _Document, band: _Band, y: float) -> float:
    text = _term_heading(band.term) + ("（續）(continued)" if band.continued else "")
    doc.put(MARGIN + 1, y + 0.6, 120, text, 8, bold=True, leading=1.5)
    if not band.continued:
        earned = f"本學期實得學分 Credits earned: {band.earned}"
        doc.put(PAGE_W - MARGIN - 70, y + 0.6, 69, earned, 7.5, align="R", color=GREY, leading=1.6)
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.15)
    doc.line(MARGIN, y + _BAND_H, PAGE_W - MARGIN, y + _BAND_H)
    return y + _BAND_H


def _table_row(doc: _Document, row: _Row, y: float) -> float:
    x = MARGIN
    for cell, (_, _, width, align) in zip(row.cells, _COLUMNS, strict=True):
        pad = 1.0 if align == "L" else 0.0
        line_y = y + _ROW_PAD
        for line in cell:
            height = max(piece.size for piece in line) * PT * _ROW_LEADING
            for piece in line:
                doc.put(
                    x + pad + piece.x,
                    line_y + (height - piece.size * PT * _ROW_LEADING),
                    width - 2 * pad - piece.x,
                    piece.text,
                    piece.size,
                    bold=piece.bold,
                    align=align,
                    color=piece.color,
                    leading=_ROW_LEADING,
                )
            line_y += height
        x += width
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.1)
    doc.line(MARGIN + 2, y + row.height, PAGE_W - MARGIN - 2, y + row.height)
    return y + row.height


def _transcript_heading(
    doc: _Document, content: DocumentContent, *, first: bool, draw: bool = True
) -> float:
    """School, title and the holder (in full on the first page); returns where it ends."""
    if draw:
        _marks(doc, content, 10)
    y = _school_heading(doc, content, 16, draw=draw)
    title = _Block("中英文成績單　Academic Transcript", 13, bold=True)
    y = _flow(doc, [title], MARGIN, y + 1, CONTENT_W, y + 10, draw=draw)
    g = content.graduate
    if first:
        rows = _person_cells(content)
    else:
        rows = [
            [
                _Cell("姓名", "Name", (g.name_zh, g.name_en)),
                _Cell("學號", "Student ID", (g.student_id,)),
            ]
        ]
    return _info_rows(doc, rows, y + 2, draw=draw) + 4


def _transcript_summary(
    doc: _Document, content: DocumentContent, earned: int, y: float, *, draw: bool = True
) -> float:
    """Total credits and notes on the left, seal and registrar on the right; returns the end."""
    passing, letter = ("60", "C-") if content.graduate.level == "bachelor" else ("70", "B-")
    notes = [
        _Block(f"實得學分總計 Total Credits Earned: {earned}", 10, bold=True, align="L"),
        _Block(
            f"及格標準：{passing} 分（等第制 {letter}）；抵免：學分抵免；停修：不計學分。",
            7.5,
            align="L",
            color=GREY,
            wrap_min=6.5,
            max_lines=2,
            before=1.5,
        ),
        _Block(
            f"Passing grade: {passing} out of 100 ({letter} in letter grades). "
            "Waived: credits transferred. Withdrawn: no credit.",
            7.5,
            align="L",
            color=GREY,
            wrap_min=6.5,
            max_lines=2,
        ),
        _Block("以下空白　End of Transcript", 8, align="L", color=GREY, before=2),
    ]
    end = _flow(doc, notes, MARGIN, y + 1, 84, y + 40, draw=draw)
    if draw:
        _registrar(doc, content, y, seal_x=110, seal_size=26)
    return max(end, y + 28)


def _transcript(doc: _Document, content: DocumentContent, qr: Image) -> None:
    level = content.graduate.level
    by_term: dict[str, list[Course]] = {}
    for course in content.courses:
        by_term.setdefault(course.term, []).append(course)
    items: list[_Band | _Row] = []
    earned_total = 0
    for term in sorted(by_term):
        earned = sum(c.credits for c in by_term[term] if _earns_credit(c.grade, level))
        earned_total += earned
        items.append(_Band(term, earned))
        items += [_course_row(doc, course) for course in by_term[term]]

    # Paginate first, so that every page can say how many pages there are. A term heading
    # never ends a page; a term that goes on over a page break is headed again.
    first_top = _transcript_heading(doc, content, first=True, draw=False) + _HEADER_H
    later_top = _transcript_heading(doc, content, first=False, draw=False) + _HEADER_H
    summary_h = _transcript_summary(doc, content, earned_total, 0, draw=False) + 3
    pages: list[list[_Band | _Row]] = [[]]
    y = first_top
    band: _Band | None = None
    for n, item in enumerate(items):
        needed = item.height
        if isinstance(item, _Band):
            band = item
            following = items[n + 1] if n + 1 < len(items) else None
            needed += following.height if following is not None else 0.0
        if y + needed > _TABLE_BOTTOM and pages[-1]:
            pages.append([])
            y = later_top
            if isinstance(item, _Row) and band is not None:
                carried = _Band(band.term, band.earned, continued=True)
                pages[-1].append(carried)
                y += carried.height
        pages[-1].append(item)
        y += item.height
    if y + summary_h > _TABLE_BOTTOM:
        pages.append([])

    for number, page_items in enumerate(pages, start=1):
        doc.add_page()
        y = _transcript_heading(doc, content, first=number == 1)
        if page_items:
            y = _table_header(doc, y)
            for item in page_items:
                y = (
                    _table_band(doc, item, y)
                    if isinstance(item, _Band)
                    else _table_row(doc, item, y)
                )
        if number == len(pages):
            _transcript_summary(doc, content, earned_total, y + 3)
        _footer(doc, content, qr, page=number, pages=len(pages), numbered=True)


def _registrar(
    doc: _Document,
    content: DocumentContent,
    y: float,
    *,
    english: bool = False,
    seal_x: float = MARGIN + 14,
    seal_size: float = 30.0,
) -> None:
    """The seal area, and the registrar's signing line to the right of it, from ``y`` down."""
    school = content.school
    _seal(doc, seal_x, y, seal_size)
    if english:
        lines = [
            _Block(school.registrar_en, 10, bold=True, min_size=8, max_lines=2),
            _Block(school.name_en, 8, color=GREY, min_size=7, max_lines=2),
        ]
    else:
        lines = [
            _Block(school.registrar_zh, 10.5, bold=True, min_size=9, max_lines=2),
            _Block(school.registrar_en, 8, min_size=7, max_lines=2),
        ]
    x = max(104.0, seal_x + seal_size + 6)
    _signature(doc, x, y + seal_size / 2, PAGE_W - MARGIN - x, lines)


def _rank_certificate(doc: _Document, content: DocumentContent, qr: Image) -> None:
    rank = content.rank
    assert rank is not None  # DocumentContent guarantees it for this type
    doc.add_page()
    _marks(doc, content, 12)
    y = _school_heading(doc, content, 22)
    y = _flow(
        doc,
        [
            _Block("學士班名次證明書", 20, bold=True, before=3),
            _Block("Certificate of Undergraduate Class Rank", 13, bold=True),
        ],
        MARGIN,
        y,
        CONTENT_W,
        y + 25,
    )
    rows = _person_cells(content)
    rows.append(
        [
            _Cell(
                "系排名",
                "Department Rank",
                (
                    f"全系畢業生 {rank.department_size} 人中第 {rank.department_rank} 名"
                    f"（{rank.department_rank} / {rank.department_size}）",
                    f"Ranked {rank.department_rank} of {rank.department_size} graduates "
                    "of the department",
                ),
                span=2,
            )
        ]
    )
    if rank.class_rank is not None and rank.class_size is not None:
        rows.append(
            [
                _Cell(
                    "班排名",
                    "Class Rank",
                    (
                        f"全班 {rank.class_size} 人中第 {rank.class_rank} 名"
                        f"（{rank.class_rank} / {rank.class_size}）",
                        f"Ranked {rank.class_rank} of {rank.class_size} in the class",
                    ),
                    span=2,
                )
            ]
        )
    y = _info_rows(doc, rows, y + 5)
    y = _flow(
        doc,
        [
            _Block(
                "茲證明上列學生於本校修業期滿，成績及格，准予畢業，其畢業成績名次如上。",
                11,
                align="L",
                wrap_min=9,
                before=6,
                leading=1.6,
            ),
            _Block(
                "This is to certify that the student named above has completed the "
                "undergraduate program of the University and graduated, ranking as stated above.",
                10,
                align="L",
                wrap_min=8.5,
                leading=1.45,
            ),
            _Block(
                "名次以同一學年度第 1、2 學期畢業生合併計算。Ranks are among all graduates of both "
                "semesters of the same academic year.",
                7.5,
                align="L",
                color=GREY,
                wrap_min=6.5,
                before=3,
            ),
        ],
        MARGIN,
        y,
        CONTENT_W,
        200,
    )
    _registrar(doc, content, max(y + 8, 206))
    _footer(doc, content, qr)


def _degree_certificate_en(doc: _Document, content: DocumentContent, qr: Image) -> None:
    g, school = content.graduate, content.school
    doc.add_page()
    _marks(doc, content, 12)
    blocks = [
        _Block(school.name_en, 22, bold=True, min_size=17, wrap_min=14, max_lines=2),
        _Block(school.name_zh, 12, color=GREY, before=1),
        _Block("DEGREE CERTIFICATE", 22, bold=True, before=10),
        _Block("This is to certify that", 12, before=12),
        _Block(g.name_en, 20, bold=True, min_size=16, wrap_min=12, max_lines=3, before=4),
        _Block(
            f"Student ID {g.student_id}, born on {_en_date(_date(g.birth_date))},",
            12,
            min_size=10,
            before=3,
        ),
        _Block(
            f"has completed all the requirements of the {g.department_en}, {g.college_en}, "
            "and was awarded the degree of",
            12,
            min_size=11,
            wrap_min=10,
            max_lines=4,
            before=2,
            leading=1.45,
        ),
        _Block(g.degree_en, 17, bold=True, min_size=13, wrap_min=12, max_lines=2, before=4),
        _Block(f"on {_en_date(_date(g.graduation_date))}.", 12, before=2),
        _Block(
            f"This certificate is issued on {_en_date(content.issued_on)} as evidence of the "
            "degree conferred; it does not replace the diploma.",
            10,
            color=GREY,
            wrap_min=8.5,
            max_lines=3,
            before=10,
        ),
    ]
    _flow(doc, blocks, MARGIN + 5, 24, CONTENT_W - 10, 198)
    _registrar(doc, content, 206, english=True)
    _footer(doc, content, qr)


_LAYOUTS: dict[str, _Layout] = {
    "diploma_zh": _diploma_zh,
    "diploma_en": _diploma_en,
    "transcript": _transcript,
    "rank_certificate": _rank_certificate,
    "degree_certificate_en": _degree_certificate_en,
}
