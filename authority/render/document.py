"""A page being laid out: A4 geometry, colours, and text measured, wrapped and placed.

Positions and widths are in millimetres, font sizes in points. Text is set in one serif family
(regular and bold); characters those faces lack come from fallback faces the renderer adds.
"""

from __future__ import annotations

import unicodedata

from authority.render._fpdf import FpdfDocument
from authority.render.marks import Mark

__all__ = [
    "CONTENT_W",
    "FRAME",
    "GREY",
    "HEADER_FILL",
    "INK",
    "MARGIN",
    "PAGE_H",
    "PAGE_W",
    "PT",
    "RULE",
    "SEAL_RED",
    "SERIF",
    "Color",
    "Document",
    "tracked",
]

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 20.0
CONTENT_W = PAGE_W - 2 * MARGIN
PT = 25.4 / 72  # millimetres per point

Color = tuple[int, int, int]
INK: Color = (25, 25, 25)
GREY: Color = (95, 95, 95)
RULE: Color = (150, 150, 150)
FRAME: Color = (128, 96, 40)
SEAL_RED: Color = (178, 34, 34)
HEADER_FILL: Color = (236, 236, 236)

SERIF = "serif"  # font family of the regular and bold faces

# Line breaking: these never start a line, those never end one.
_CLOSERS = frozenset("，。、；：！？）」』】〉》,.;:!?)]}%")
_OPENERS = frozenset("（「『【〈《([{")


class Document(FpdfDocument):
    """One document being laid out, with the text primitives every layout uses."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(0, 0, 0)
        self.c_margin = 0
        self.seal_mark: Mark | None = None  # the school's seal; None: a red box marks its place
        self.emblem_mark: Mark | None = None

    def mark(self, mark: Mark, x: float, y: float, size: float) -> None:
        """A seal or emblem centred in a ``size`` square from ``(x, y)``, proportions kept."""
        if isinstance(mark.source, bytes):
            self.vector(mark.source, x, y, size, size)
        else:
            self.picture(mark.source, x, y, size, size, keep_aspect=True)

    def width(self, text: str, size: float, bold: bool = False) -> float:
        """The width of one line of ``text`` at ``size`` points, in millimetres."""
        return self.em_width(SERIF + ("B" if bold else ""), text) * size / 1000 * PT

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
        color: Color = INK,
        leading: float = 1.3,
        tracking: float = 0.0,
    ) -> float:
        """One line of text in a box of width ``w`` from ``(x, y)``; returns the line height.

        The text is placed as fpdf2's ``cell`` would place it, but with ``text``, which is
        several times faster; callers have wrapped it to fit already. ``tracking`` spaces the
        characters out, in ems.
        """
        height = size * PT * leading
        self.set_font(SERIF, "B" if bold else "", size)
        self.set_text_color(*color)
        if self.needs_fallback(text):
            self.set_xy(x, y)
            self.cell(w, height, text, align=align)
            return height
        if align != "L":
            room = w - self.width(text, size, bold) - tracked(text, size, tracking)
            x += room / 2 if align == "C" else room
        if tracking:
            self.set_char_spacing(tracking * size)  # fpdf2 writes this as is, in points
        self.text(x, y + height / 2 + 0.3 * size * PT, text)
        if tracking:
            self.set_char_spacing(0)
        return height


def tracked(text: str, size: float, tracking: float) -> float:
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
