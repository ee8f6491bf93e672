"""Fonts for rendering: where they are, which characters they cover, and fast subsets.

The documents are set in Noto Serif CJK TC (Debian ``fonts-noto-cjk``), with HanaMin
(``fonts-hanazono``) as fallback for rare ideographs; a :class:`FontSet` of other files can be
given instead. Every font file is parsed once per process; rendering a document then only looks
glyphs up in memory.

The subsetters exist for speed. fontTools' general subsetter costs about 200 ms for one diploma
set in Noto CJK (it interprets every kept CFF charstring in pure Python) and about 500 ms for a
name with one HanaMin character (it decodes the whole ``cmap`` and ``glyf`` index each time). A
PDF needs much less: :class:`CidCffSubsetter` copies each glyph's desubroutinized charstring,
prepared once and cached, into a small CFF font assembled byte by byte, and
:class:`TrueTypeSubsetter` does the same with ``glyf`` outlines.
"""

from __future__ import annotations

import array
import functools
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fontTools import ttLib
from fontTools.cffLib.transforms import desubroutinizeCharString
from fontTools.misc.psCharStrings import T2CharString

from certseal.errors import ConfigurationError, RenderError

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
HANAZONO_DIR = Path("/usr/share/fonts/truetype/hanazono")
# Face 3 of the Noto Serif CJK collections is the Traditional Chinese (TC) face.
NOTO_TC_INDEX = 3


@dataclass(frozen=True)
class FontFace:
    """One face of a font file: a collection (.ttc) holds several, selected by ``index``."""

    path: Path
    index: int = 0
    package: str = ""  # the Debian package that installs it, named when the file is missing

    def check(self) -> None:
        """Raise ConfigurationError unless the file exists."""
        if not self.path.is_file():
            hint_en = f" (install the Debian package {self.package})" if self.package else ""
            hint_zh = f"（請安裝 Debian 套件 {self.package}）" if self.package else ""
            raise ConfigurationError(
                f"font file {self.path} not found{hint_en}",
                f"找不到字型檔 {self.path}{hint_zh}",
            )

    @property
    def label(self) -> str:
        return f"{self.path.name}#{self.index}" if self.index else self.path.name


@dataclass(frozen=True)
class FontSet:
    """The faces a document is set in: regular and bold text, then fallbacks in order."""

    regular: FontFace
    bold: FontFace
    fallbacks: tuple[FontFace, ...] = field(default=())

    @property
    def faces(self) -> tuple[FontFace, ...]:
        return (self.regular, self.bold, *self.fallbacks)

    def check(self) -> None:
        """Raise ConfigurationError naming the first face whose file is missing."""
        for face in self.faces:
            face.check()


def default_font_set() -> FontSet:
    """The system fonts installed by Debian's fonts-noto-cjk and fonts-hanazono.

    Raises:
        ConfigurationError: a font file is missing; the message names its package.
    """
    fonts = FontSet(
        regular=FontFace(NOTO_DIR / "NotoSerifCJK-Regular.ttc", NOTO_TC_INDEX, "fonts-noto-cjk"),
        bold=FontFace(NOTO_DIR / "NotoSerifCJK-Bold.ttc", NOTO_TC_INDEX, "fonts-noto-cjk"),
        fallbacks=(
            FontFace(HANAZONO_DIR / "HanaMinA.ttf", 0, "fonts-hanazono"),
            FontFace(HANAZONO_DIR / "HanaMinB.ttf", 0, "fonts-hanazono"),
        ),
    )
    fonts.check()
    return fonts


def _open(face: FontFace) -> ttLib.TTFont:
    face.check()
    try:
        return ttLib.TTFont(face.path, fontNumber=face.index, lazy=True, recalcTimestamp=False)
    except Exception as e:  # fontTools raises many unrelated types for a bad file
        raise ConfigurationError(
            f"cannot read font {face.label}: {e}", f"無法讀取字型 {face.label}：{e}"
        ) from e


@functools.lru_cache(maxsize=32)
def coverage(face: FontFace) -> frozenset[int]:
    """The code points a face has a glyph for (its cmap), read once per process."""
    font = _open(face)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def uncovered(text: str, fonts: FontSet) -> list[str]:
    """The characters of ``text`` that no face of ``fonts`` covers, once each, in order.

    Control characters (a line break, a tab) have no glyph in any font, so they are reported too.
    """
    missing: dict[str, None] = {}
    maps = [coverage(face) for face in fonts.faces]
    for char in text:
        if char not in missing and not any(ord(char) in cmap for cmap in maps):
            missing[char] = None
    return list(missing)


def describe(char: str) -> str:
    """``U+5803 (堃)``: how messages name a character; control characters only by code point."""
    shown = unicodedata.category(char) not in ("Cc", "Cs", "Zl", "Zp")
    return f"U+{ord(char):04X}" + (f" ({char})" if shown else "")


# --- CFF subsetting --------------------------------------------------------------------------

# DICT operators whose operand is a string id (SID) into the source font's String INDEX; the
# subset has its own strings, so these are dropped from the copied Font DICTs.
_SID_OPERATORS = {
    (0,),
    (1,),
    (2,),
    (3,),
    (4,),
    (12, 0),
    (12, 21),
    (12, 22),
    (12, 38),
}
_OP_PRIVATE = (18,)
_OP_SUBRS = (19,)
_DROPPED_FROM_FONT_DICT = _SID_OPERATORS | {_OP_PRIVATE}


def _dict_entries(data: bytes, face: FontFace) -> list[tuple[tuple[int, ...], bytes]]:
    """Split a CFF DICT into (operator, encoded operands) pairs, keeping operands verbatim.

    Raises:
        ConfigurationError: the DICT holds a byte the CFF specification reserves.
    """
    entries: list[tuple[tuple[int, ...], bytes]] = []
    start = i = 0
    while i < len(data):
        b0 = data[i]
        if b0 <= 21:
            op = (12, data[i + 1]) if b0 == 12 else (b0,)
            entries.append((op, data[start:i]))
            i += len(op)
            start = i
        elif b0 == 28:
            i += 3
        elif b0 == 29:
            i += 5
        elif b0 == 30:
            i += 1
            while i < len(data):
                nibbles = data[i]
                i += 1
                if nibbles >> 4 == 0xF or nibbles & 0xF == 0xF:
                    break
        elif 32 <= b0 <= 246:
            i += 1
        elif 247 <= b0 <= 254:
            i += 2
        else:
            raise ConfigurationError(
                f"cannot read font {face.label}: reserved byte {b0} in a CFF DICT",
                f"無法讀取字型 {face.label}：CFF DICT 含保留位元組 {b0}",
            )
    return entries


def _join_entries(entries: Iterable[tuple[tuple[int, ...], bytes]]) -> bytes:
    return b"".join(operands + bytes(op) for op, operands in entries)


def _int(value: int) -> bytes:
    """A DICT integer in the shortest encoding."""
    if -107 <= value <= 107:
        return bytes([value + 139])
    if 108 <= value <= 1131:
        value -= 108
        return bytes([(value >> 8) + 247, value & 0xFF])
    if -1131 <= value <= -108:
        value = -value - 108
        return bytes([(value >> 8) + 251, value & 0xFF])
    if -32768 <= value <= 32767:
        return b"\x1c" + value.to_bytes(2, "big", signed=True)
    return b"\x1d" + value.to_bytes(4, "big", signed=True)


def _offset(value: int) -> bytes:
    """A DICT integer of fixed width, so a DICT's size is known before the offsets it holds."""
    return b"\x1d" + value.to_bytes(4, "big", signed=True)


def _read_index(data: bytes, at: int) -> list[bytes]:
    """The items of the CFF INDEX that starts at byte ``at`` of ``data``."""
    count = int.from_bytes(data[at : at + 2], "big")
    if count == 0:
        return []
    size = data[at + 2]
    offsets = [
        int.from_bytes(data[at + 3 + k * size : at + 3 + (k + 1) * size], "big")
        for k in range(count + 1)
    ]
    base = at + 2 + (count + 1) * size  # offsets count from the byte before the data
    return [data[base + offsets[k] : base + offsets[k + 1]] for k in range(count)]


def _index(items: Sequence[bytes]) -> bytes:
    if not items:
        return b"\x00\x00"
    last = 1 + sum(len(item) for item in items)
    size = 1 if last < 0x100 else 2 if last < 0x10000 else 3 if last < 0x1000000 else 4
    offsets = bytearray()
    position = 1
    for item in (b"", *items):
        position += len(item)
        offsets += position.to_bytes(size, "big")
    return len(items).to_bytes(2, "big") + bytes([size]) + bytes(offsets) + b"".join(items)


class CidCffSubsetter:
    """Cuts subsets out of one CID-keyed CFF face (such as Noto CJK) in well under a millisecond.

    The source font is parsed once. Each glyph's charstring is desubroutinized the first time it
    is asked for and cached, so a subset is a concatenation of cached bytes. The subset keeps the
    source's CIDs, Font DICTs and hinting; it drops layout tables, which a PDF does not use.
    Thread-safe.

    Raises:
        ConfigurationError: the face cannot be read or is not a CID-keyed CFF font.
    """

    def __init__(self, face: FontFace) -> None:
        font = _open(face)
        if "CFF " not in font:
            raise ConfigurationError(
                f"font {face.label} is not a CFF (OpenType/PostScript) font",
                f"字型 {face.label} 不是 CFF（OpenType/PostScript）字型",
            )
        raw = font.reader["CFF "]
        cff = font["CFF "].cff
        top = cff.topDictIndex[0]
        if not hasattr(top, "ROS"):
            raise ConfigurationError(
                f"font {face.label} is not a CID-keyed CFF font",
                f"字型 {face.label} 不是 CID 字型",
            )
        self.face = face
        font.close()  # the CFF table is in memory now; its charstrings decode from there
        self._name = cff.fontNames[0].encode("ascii")
        self._registry, self._ordering, self._supplement = top.ROS
        self._cid_count = int(getattr(top, "CIDCount", 8720))
        self._bbox = [round(v) for v in top.FontBBox]
        self._charstrings = top.CharStrings
        self._gid_by_cid = {
            0 if name == ".notdef" else int(name[3:]): gid for gid, name in enumerate(top.charset)
        }
        self._names = top.charset
        self._fd_dicts: list[list[tuple[tuple[int, ...], bytes]]] = []
        self._privates: list[bytes] = []
        for fd, fd_data in zip(top.FDArray, _read_index(raw, top.rawDict["FDArray"]), strict=True):
            size, offset = fd.rawDict["Private"]
            private = _dict_entries(raw[offset : offset + size], face)
            self._privates.append(_join_entries(e for e in private if e[0] != _OP_SUBRS))
            self._fd_dicts.append(
                [e for e in _dict_entries(fd_data, face) if e[0] not in _DROPPED_FROM_FONT_DICT]
            )
        self._glyphs: dict[int, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def has_cid(self, cid: int) -> bool:
        return cid in self._gid_by_cid

    def _glyph(self, cid: int) -> tuple[int, bytes]:
        """The Font DICT index and desubroutinized charstring of one CID, cached."""
        cached = self._glyphs.get(cid)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._glyphs.get(cid)
            if cached is not None:
                return cached
            try:
                name = self._names[self._gid_by_cid[cid]]
            except KeyError:
                raise RenderError(
                    f"font {self.face.label} has no glyph with CID {cid}",
                    f"字型 {self.face.label} 沒有 CID {cid} 的字形",
                ) from None
            source, fd_index = self._charstrings.getItemAndSelector(name)
            if source.bytecode is None:
                source.compile()
            # Desubroutinize a copy: the source charstring stays as read, for other callers.
            charstring = T2CharString(
                bytecode=source.bytecode, private=source.private, globalSubrs=source.globalSubrs
            )
            desubroutinizeCharString(charstring)
            charstring.compile()
            cached = (int(fd_index), bytes(charstring.bytecode))
            self._glyphs[cid] = cached
            return cached

    def subset(self, cids: Iterable[int]) -> bytes:
        """A CFF font program (for a PDF ``FontFile3 /CIDFontType0C``) with these CIDs only.

        CID 0 (.notdef) is always included. The CIDs stay the same as in the source font.
        """
        order = sorted(set(cids) | {0})
        glyphs = [self._glyph(cid) for cid in order]
        used_fds = sorted({fd for fd, _ in glyphs})
        fd_number = {fd: n for n, fd in enumerate(used_fds)}

        strings = [str(self._registry).encode("ascii"), str(self._ordering).encode("ascii")]
        charset = b"\x00" + b"".join(cid.to_bytes(2, "big") for cid in order[1:])
        fd_select = b"\x00" + bytes(fd_number[fd] for fd, _ in glyphs)
        charstrings = _index([charstring for _, charstring in glyphs])

        def top_dict(charset_at: int, fd_select_at: int, cs_at: int, fd_array_at: int) -> bytes:
            return b"".join(
                (
                    _int(391) + _int(392) + _int(int(self._supplement)) + b"\x0c\x1e",  # ROS
                    _int(self._cid_count) + b"\x0c\x22",  # CIDCount
                    b"".join(_int(v) for v in self._bbox) + b"\x05",  # FontBBox
                    _offset(charset_at) + b"\x0f",
                    _offset(fd_select_at) + b"\x0c\x25",
                    _offset(cs_at) + b"\x11",
                    _offset(fd_array_at) + b"\x0c\x24",
                )
            )

        def fd_dict(fd: int, private_at: int) -> bytes:
            private = _int(len(self._privates[fd])) + _offset(private_at) + bytes(_OP_PRIVATE)
            return _join_entries(self._fd_dicts[fd]) + private

        head = b"\x01\x00\x04\x04" + _index([self._name])
        tail = _index(strings) + _index([])  # String INDEX, then an empty Global Subr INDEX
        top_size = len(_index([top_dict(0, 0, 0, 0)]))
        charset_at = len(head) + top_size + len(tail)
        fd_select_at = charset_at + len(charset)
        cs_at = fd_select_at + len(fd_select)
        fd_array_at = cs_at + len(charstrings)
        fd_array_size = len(_index([fd_dict(fd, 0) for fd in used_fds]))
        private_at = fd_array_at + fd_array_size
        fd_dicts = []
        for fd in used_fds:
            fd_dicts.append(fd_dict(fd, private_at))
            private_at += len(self._privates[fd])
        out = b"".join(
            (
                head,
                _index([top_dict(charset_at, fd_select_at, cs_at, fd_array_at)]),
                tail,
                charset,
                fd_select,
                charstrings,
                _index(fd_dicts),
                *(self._privates[fd] for fd in used_fds),
            )
        )
        return out


# --- TrueType subsetting ---------------------------------------------------------------------

# Tables copied as they are: hinting programs and metrics the glyphs' instructions rely on.
_TRUETYPE_COPIED = ("OS/2", "cvt ", "fpgm", "prep", "gasp")
# Composite glyph component flags (OpenType 'glyf' specification).
_ARGS_ARE_WORDS = 0x0001
_HAVE_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAVE_XY_SCALE = 0x0040
_HAVE_2X2 = 0x0080


def _checksum(data: bytes) -> int:
    padded = data + b"\x00" * (-len(data) % 4)
    words = array.array("I", padded)
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _components(glyph: bytes) -> list[tuple[int, int]]:
    """(byte position, glyph id) of each component of a composite glyph; [] for a simple one."""
    if len(glyph) < 10 or int.from_bytes(glyph[0:2], "big", signed=True) >= 0:
        return []
    out = []
    at = 10
    while True:
        flags = int.from_bytes(glyph[at : at + 2], "big")
        out.append((at + 2, int.from_bytes(glyph[at + 2 : at + 4], "big")))
        at += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        if flags & _HAVE_SCALE:
            at += 2
        elif flags & _HAVE_XY_SCALE:
            at += 4
        elif flags & _HAVE_2X2:
            at += 8
        if not flags & _MORE_COMPONENTS:
            return out


class TrueTypeSubsetter:
    """Cuts subsets out of one TrueType (glyf) face, such as HanaMin, without fontTools.

    Only the table directory, ``loca`` and ``hmtx`` are read up front; glyph outlines are read
    from the file the first time they are needed and cached. A subset keeps the hinting programs
    and renumbers the glyphs compactly (composite glyphs bring their components). Thread-safe.

    Raises:
        ConfigurationError: the face cannot be read or has no TrueType outlines.
    """

    def __init__(self, face: FontFace) -> None:
        font = _open(face)
        try:
            entries = {tag: (e.offset, e.length) for tag, e in font.reader.tables.items()}
        finally:
            font.close()
        if not {"glyf", "loca", "head", "hhea", "hmtx", "maxp"} <= entries.keys():
            raise ConfigurationError(
                f"font {face.label} has no TrueType outlines",
                f"字型 {face.label} 沒有 TrueType 字形",
            )
        self.face = face
        with face.path.open("rb") as file:

            def table(tag: str) -> bytes:
                offset, length = entries[tag]
                file.seek(offset)
                return file.read(length)

            self._head = table("head")
            self._hhea = table("hhea")
            self._maxp = table("maxp")
            self._copied = {tag: table(tag) for tag in _TRUETYPE_COPIED if tag in entries}
            post = table("post")[:32] if "post" in entries else b""
            loca_data, hmtx_data = table("loca"), table("hmtx")
        # post version 3 keeps the header (italic angle, underline) and drops glyph names.
        self._post = b"\x00\x03\x00\x00" + post[4:32] if len(post) >= 32 else b""
        num_glyphs = int.from_bytes(self._maxp[4:6], "big")
        long_offsets = int.from_bytes(self._head[50:52], "big", signed=True) == 1
        loca = array.array("I" if long_offsets else "H", loca_data)
        if sys.byteorder == "little":
            loca.byteswap()
        self._loca = list(loca) if long_offsets else [2 * v for v in loca]
        metrics = array.array("H", hmtx_data)
        if sys.byteorder == "little":
            metrics.byteswap()
        self._long_metrics = int.from_bytes(self._hhea[34:36], "big")
        self._hmtx = metrics
        self._num_glyphs = num_glyphs
        self._glyf_at = entries["glyf"][0]
        self._glyphs: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def _metric(self, gid: int) -> bytes:
        """The glyph's advance width and left side bearing, as ``hmtx`` stores them."""
        if gid < self._long_metrics:
            advance, lsb = self._hmtx[2 * gid], self._hmtx[2 * gid + 1]
        else:
            advance = self._hmtx[2 * (self._long_metrics - 1)]
            lsb = self._hmtx[2 * self._long_metrics + (gid - self._long_metrics)]
        return advance.to_bytes(2, "big") + lsb.to_bytes(2, "big")

    def _glyph(self, gid: int) -> bytes:
        cached = self._glyphs.get(gid)
        if cached is not None:
            return cached
        if not 0 <= gid < self._num_glyphs:
            raise RenderError(
                f"font {self.face.label} has no glyph {gid}",
                f"字型 {self.face.label} 沒有第 {gid} 號字形",
            )
        with self._lock:
            start, end = self._loca[gid], self._loca[gid + 1]
            with self.face.path.open("rb") as file:
                file.seek(self._glyf_at + start)
                data = file.read(end - start)
            self._glyphs[gid] = data
            return data

    def subset(self, glyphs: dict[int, tuple[int, ...]]) -> tuple[bytes, dict[int, int]]:
        """A TrueType font with these glyphs (glyph id -> the code points it shows).

        Returns:
            The font program (for a PDF ``FontFile2``) and the new glyph id of each old one.
        """
        seen: set[int] = set()
        pending = [0, *glyphs]
        while pending:
            gid = pending.pop()
            if gid not in seen:
                seen.add(gid)
                pending += [component for _, component in _components(self._glyph(gid))]
        order = sorted(seen)
        renumber = {old: new for new, old in enumerate(order)}

        glyf = bytearray()
        loca = array.array("I", [0])
        for old in order:
            data = self._glyph(old)
            parts = _components(data)
            if parts:
                patched = bytearray(data)
                for at, component in parts:
                    patched[at : at + 2] = renumber[component].to_bytes(2, "big")
                data = bytes(patched)
            glyf += data + b"\x00" * (-len(data) % 4)
            loca.append(len(glyf))
        if sys.byteorder == "little":
            loca.byteswap()
        count = len(order).to_bytes(2, "big")
        tables = {
            **self._copied,
            # Long offsets (indexToLocFormat 1); checkSumAdjustment is set once all is laid out.
            "head": self._head[:8]
            + b"\x00" * 4
            + self._head[12:50]
            + b"\x00\x01"
            + self._head[52:],
            "hhea": self._hhea[:34] + count,
            "maxp": self._maxp[:4] + count + self._maxp[6:],
            "hmtx": b"".join(self._metric(old) for old in order),
            "loca": loca.tobytes(),
            "glyf": bytes(glyf),
            "cmap": _cmap_format12(
                {code: renumber[gid] for gid, codes in glyphs.items() for code in codes}
            ),
        }
        if self._post:
            tables["post"] = self._post
        return _sfnt(tables), renumber


def _cmap_format12(mapping: dict[int, int]) -> bytes:
    """A ``cmap`` with one Windows Unicode (full repertoire) subtable, one group a character."""
    groups = b"".join(
        code.to_bytes(4, "big") * 2 + gid.to_bytes(4, "big")
        for code, gid in sorted(mapping.items())
    )
    length = 16 + len(groups)
    subtable = (
        b"\x00\x0c\x00\x00"
        + length.to_bytes(4, "big")
        + b"\x00" * 4
        + len(mapping).to_bytes(4, "big")
        + groups
    )
    return b"\x00\x00\x00\x01" + b"\x00\x03\x00\x0a" + (12).to_bytes(4, "big") + subtable


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """An OpenType file (TrueType flavour) from its tables, with correct checksums."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = (
        b"\x00\x01\x00\x00"
        + count.to_bytes(2, "big")
        + (power * 16).to_bytes(2, "big")
        + (power.bit_length() - 1).to_bytes(2, "big")
        + (count * 16 - power * 16).to_bytes(2, "big")
    )
    offset = len(header) + 16 * count
    records = bytearray()
    body = bytearray()
    head_at = 0
    for tag in tags:
        data = tables[tag]
        if tag == "head":
            head_at = offset
        records += tag.encode("latin-1")
        records += _checksum(data).to_bytes(4, "big")
        records += offset.to_bytes(4, "big") + len(data).to_bytes(4, "big")
        padded = data + b"\x00" * (-len(data) % 4)
        body += padded
        offset += len(padded)
    font = bytearray(header + records + body)
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    font[head_at + 8 : head_at + 12] = adjustment.to_bytes(4, "big")
    return bytes(font)
