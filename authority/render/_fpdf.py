"""Every use of fpdf2's internals, in one place, for fpdf2 2.8.9 alone.

Speed needs them: a document shares fonts parsed once per process (fpdf2 would parse each font
again for every document), embeds subsets cut by :mod:`authority.fonts` (fpdf2's own subsetter
takes hundreds of milliseconds), reuses print-lock keys made once (deriving them takes
about 5 ms), and reuses images encoded and drawings rendered once (:class:`ImageStore`: fpdf2
would hash and compress the QR code and the emblem, and parse and draw the seal's SVG, again for
every document: about 10 ms of a diploma). Each of these reaches into fpdf2's private
attributes and methods, which change between releases without notice, so
``tests/authority/test_fpdf_internals.py`` fails as soon as another fpdf2 version is
installed; then read this module against the new fpdf2 and move
:data:`WRITTEN_FOR` on.

The rest of :mod:`authority.render` uses fpdf2's public drawing API only (pages, lines,
rectangles, images, colours, text) through :class:`FpdfDocument`.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from fontTools import ttLib
from fpdf import FPDF
from fpdf.encryption import StandardSecurityHandler
from fpdf.enums import AccessPermission, EncryptionMethod, OutputIntentSubType, PDFResourceType
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import RasterImageInfo
from fpdf.image_parsing import get_img_info
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFCatalog,
    PDFFont,
    PDFFontStream,
    PDFICCProfile,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFString
from fpdf.util import builtin_srgb2014_bytes
from PIL.Image import Image

from authority.fonts import CidCffSubsetter, FontFace, TrueTypeSubsetter

__all__ = ["WRITTEN_FOR", "FpdfDocument", "ImageStore", "LockKeys", "SharedFace", "Subsetter"]

WRITTEN_FOR = "2.8.9"  # the fpdf2 release whose internals this module was read against

Subsetter = CidCffSubsetter | TrueTypeSubsetter


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


@dataclass
class SharedFace:
    """A face parsed for fpdf2 once, with the fast subsetter for its kind of outlines."""

    face: FontFace
    family: str
    style: str
    template: TTFFont
    subsetter: Subsetter | None

    @property
    def key(self) -> str:
        return self.family + self.style

    @property
    def code_points(self) -> set[int]:
        """The characters the face has a glyph for."""
        return set(self.template.cmap.keys())

    @classmethod
    def load(cls, face: FontFace, family: str, style: str) -> SharedFace:
        scratch = FPDF()
        scratch.add_font(family, style, str(face.path), collection_font_number=face.index)
        template = scratch.fonts[family + style]
        assert isinstance(template, TTFFont)
        # fpdf2 has read what layout needs; the file is read again only to embed the font.
        template.ttfont.close()
        subsetter: Subsetter | None = None
        if template.is_cff and template.is_cid_keyed:
            subsetter = CidCffSubsetter(face)
        elif not template.is_cff:
            subsetter = TrueTypeSubsetter(face)
        # Otherwise (a CFF font keyed by glyph names) fpdf2 subsets it, a lot more slowly.
        return cls(face, family, style, template, subsetter)


# --- images shared across documents ----------------------------------------------------------


@dataclass(frozen=True)
class _Raster:
    """A raster image as fpdf2 embeds it: its name (fpdf2's MD5 of the pixels) and encoding."""

    name: str
    info: RasterImageInfo


@dataclass(frozen=True)
class _Drawing:
    """An SVG as fpdf2 drew it once: the content-stream bytes and the graphics states it named."""

    stream: bytes
    styles: tuple[tuple[str, Name], ...]


class ImageStore:
    """Images encoded and SVG drawings rendered once, for every document of a renderer.

    A raster is hashed and compressed by fpdf2 on each use in a new document; here once. An SVG
    is parsed and drawn by fpdf2 into the page's content stream; the same SVG drawn at the same
    place, from the same graphics state, into a document that has named the same graphics
    states so far, writes the same bytes, so they are kept and written again. A drawing that
    registers anything else (gradients, soft masks, images inside the SVG) is never kept: fpdf2
    draws it each time. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id() of an object that the entry itself keeps alive, so the id is not reused.
        self._rasters: dict[int, tuple[Image, _Raster | None]] = {}
        self._drawings: dict[tuple[object, ...], _Drawing | None] = {}

    def raster(self, image: Image, image_filter: str) -> _Raster | None:
        """``image`` as fpdf2 would embed it; None where fpdf2 must do it (an ICC profile)."""
        with self._lock:
            entry = self._rasters.get(id(image))
        if entry is not None and entry[0] is image:
            return entry[1]
        # What fpdf2's preload_image does for a PIL image.
        name = hashlib.new("md5", image.tobytes(), usedforsecurity=False).hexdigest()
        info = get_img_info(name, image, image_filter)  # type: ignore[arg-type]
        raster = None if info.get("iccp") is not None else _Raster(name, info)
        with self._lock:
            self._rasters[id(image)] = (image, raster)
        return raster

    def drawing(self, key: tuple[object, ...]) -> _Drawing | bool | None:
        """The drawing kept under ``key``; None if it may not be kept; False if not drawn yet."""
        with self._lock:
            return self._drawings.get(key, False)

    def keep(self, key: tuple[object, ...], drawing: _Drawing | None) -> None:
        with self._lock:
            self._drawings[key] = drawing


# --- the document ----------------------------------------------------------------------------


class FpdfDocument(FPDF):
    """An fpdf2 document that sets text in shared fonts and writes itself with fast subsets."""

    def __init__(self, *, orientation: str, unit: str, format: str) -> None:
        super().__init__(orientation=orientation, unit=unit, format=format)
        self.fast_fonts: dict[str, Subsetter] = {}
        self.opened: list[ttLib.TTFont] = []  # font files opened for this document alone
        self.store: ImageStore | None = None  # images shared with other documents, if any

    def add_shared_font(self, face: SharedFace) -> None:
        """Make ``face`` usable under its family and style, without parsing it again."""
        reopen = face.face if face.subsetter is None else None
        shared = _share(face.template, len(self.fonts) + 1, reopen)
        self.fonts[face.key] = shared
        if face.subsetter is None:
            self.opened.append(shared.ttfont)
        else:
            self.fast_fonts[face.key] = face.subsetter
        if shared.is_cff and shared.is_cid_keyed:
            self._set_min_pdf_version("1.6")

    def picture(
        self, image: Image, x: float, y: float, w: float, h: float, *, keep_aspect: bool = False
    ) -> None:
        """``FPDF.image`` of a PIL image, encoded once per :class:`ImageStore` (same bytes)."""
        raster = self.store.raster(image, self.image_cache.image_filter) if self.store else None
        if raster is None:
            self.image(image, x=x, y=y, w=w, h=h, keep_aspect_ratio=keep_aspect)
            return
        images = self.image_cache.images
        info = images.get(raster.name)
        if isinstance(info, RasterImageInfo):
            info["usages"] = info["usages"] + 1  # type: ignore[operator]
        else:
            # A copy: writing the document stores its object number in the info.
            info = RasterImageInfo(raster.info)
            info["i"] = len(images) + 1
            info["usages"] = 1
            info["iccp_i"] = None
            images[raster.name] = info
        self._raster_image(raster.name, image, info, x, y, w, h, keep_aspect_ratio=keep_aspect)

    def vector(self, svg: bytes, x: float, y: float, w: float, h: float) -> None:
        """``FPDF.image`` of SVG source, proportions kept; drawn once per :class:`ImageStore`
        for each place and state it is drawn in (same bytes)."""
        contents = self.pages[self.page].contents
        if self.store is None or not isinstance(contents, bytearray):
            self.image(svg, x=x, y=y, w=w, h=h, keep_aspect_ratio=True)
            return
        catalog = self._resource_catalog
        styles = tuple(catalog.graphics_styles.items())
        key = (svg, x, y, w, h, self.k, self.h, self._style_state(), styles)
        kept = self.store.drawing(key)
        if isinstance(kept, _Drawing):
            for style, name in kept.styles:
                catalog.graphics_styles[style] = name
            contents.extend(kept.stream)
            catalog.index_stream_resources(kept.stream.decode("latin-1"), self.page)
            self._set_min_pdf_version("1.4")
            return
        before, others = len(contents), self._other_resources()
        self.image(svg, x=x, y=y, w=w, h=h, keep_aspect_ratio=True)
        if kept is None:
            return
        drawing = None
        if self._other_resources() == others:
            added = tuple(catalog.graphics_styles.items())[len(styles) :]
            drawing = _Drawing(bytes(contents[before:]), added)
        self.store.keep(key, drawing)

    def _style_state(self) -> tuple[object, ...]:
        """What fpdf2 draws an SVG from (``_current_graphic_style``), comparable."""
        return (
            self.allow_images_transparency,
            self.line_width,
            str(self.draw_color),
            str(self.fill_color),
            tuple(sorted(self.dash_pattern.items())),
        )

    def _other_resources(self) -> tuple[object, ...]:
        """The document's resources a drawing may add besides graphics states."""
        catalog = self._resource_catalog
        return (
            len(self.image_cache.images),
            tuple(len(catalog.resources[kind]) for kind in sorted(catalog.resources, key=str)),
            len(catalog.soft_mask_xobjects),
            len(catalog.form_xobjects),
            catalog.next_xobject_index,
            catalog.last_reserved_object_id,
        )

    def em_width(self, font_key: str, text: str) -> float:
        """The advance width of ``text`` in a font, in thousandths of an em."""
        font = self.fonts[font_key]
        assert isinstance(font, TTFFont)
        cw, missing = font.cw, font.desc.missing_width
        return sum(cw.get(ord(c), missing) for c in text)

    def needs_fallback(self, text: str) -> bool:
        """Whether ``text`` has a character the current font lacks and a fallback font has.

        Only fpdf2's ``cell`` looks characters up in the fallback fonts.
        """
        if not self._fallback_font_ids:
            return False
        font = self.current_font
        assert isinstance(font, TTFFont)
        return any(ord(char) not in font.cmap for char in text)

    def missing_glyphs(self) -> list[int]:
        """The characters fpdf2 met without a glyph, in the first font that lacked any."""
        for font in self.fonts.values():
            if isinstance(font, TTFFont) and font.missing_glyphs:
                return list(font.missing_glyphs)
        return []

    def make_archival(self, xmp: str) -> None:
        """The document-level parts of PDF/A-3b: an sRGB output intent, XMP metadata, PDF 1.7.

        Done by hand rather than with fpdf2's ``enforce_compliance``, which drops the document
        information dictionary and stamps the XMP with the time of writing: our documents keep
        both, identical, and reproducible from their content. ``xmp`` is the ``x:xmpmeta``
        element, consistent with the information dictionary (title, subject, author, creator,
        creation date) and naming PDF/A-3B.
        """
        self.add_output_intent(
            OutputIntentSubType.PDFA,
            output_condition_identifier="sRGB IEC61966-2.1",
            output_condition="sRGB IEC61966-2.1",
            registry_name="http://www.color.org",
            # A copy of one compressed once: writing numbers the copy as an object of this PDF.
            dest_output_profile=copy.copy(_SRGB_PROFILE),
            info="sRGB2014 (v2)",
        )
        self.set_xmp_metadata(xmp)
        self._set_min_pdf_version("1.7")

    def attach(
        self, name: str, data: bytes, *, mime: str, description: str, modified: dt.datetime
    ) -> None:
        """Embed ``data`` as a file associated with the whole document (the catalog's /AF),
        as PDF/A-3 wants: MIME type, modification date and an /AFRelationship of Alternative
        (the same content as the pages, in another form)."""
        self.embed_file(
            bytes=data,
            basename=name,
            mime_type=mime,
            associated_file_relationship="Alternative",
            desc=description,
            modification_date=modified,
            compress=True,
        )

    def lock_printing(self, keys: LockKeys) -> None:
        """Encrypt so the file opens without a password but cannot be printed, copied or changed.

        What ``FPDF.set_encryption(owner_password=<random>, user_password="",
        encryption_method=AES_256, permissions=none())`` sets up, with keys made once.
        """
        self._security_handler = _PrintLock(self, keys)

    def to_pdf(self) -> bytes:
        """The finished PDF, font subsets cut by :mod:`authority.fonts`."""
        return bytes(self.output(output_producer_class=_OutputProducer))

    def close_fonts(self) -> None:
        """Close the font files opened for this document alone."""
        for font in self.opened:
            font.close()


# fpdf2's own sRGB profile (v2, 3 KB), compressed once.
_SRGB_PROFILE = PDFICCProfile(contents=builtin_srgb2014_bytes(), n=3, alternate="DeviceRGB")


# --- writing the PDF -------------------------------------------------------------------------


class _OutputProducer(OutputProducer):
    """fpdf2's PDF writer, embedding font subsets cut by :mod:`authority.fonts`."""

    def _add_fonts(
        self,
        image_objects_per_index: Any,
        gfxstate_objs_per_name: Any,
        pattern_objs_per_name: Any,
    ) -> dict[int, Any]:
        pdf = self.fpdf
        assert isinstance(pdf, FpdfDocument)
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

    def _add_subset_font(self, font: TTFFont, subsetter: Subsetter) -> PDFFont:
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


# --- the print lock --------------------------------------------------------------------------


@dataclass(frozen=True)
class LockKeys:
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
    def generate(cls) -> LockKeys:
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

    def __init__(self, pdf: FPDF, keys: LockKeys) -> None:
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
