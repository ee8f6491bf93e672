"""Layout building blocks the documents share: flowing paragraphs that shrink to fit, labelled
grids, the school heading, the seal area, signing lines, and the verification footer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import (
    CONTENT_W,
    FRAME,
    GREY,
    INK,
    MARGIN,
    PAGE_H,
    PAGE_W,
    PT,
    RULE,
    SEAL_RED,
    Color,
    Document,
    tracked,
)
from authority.render.wording import en_date, iso_date, roc_date
from certseal.errors import RenderError

__all__ = [
    "Block",
    "Cell",
    "diploma_frame",
    "emblem",
    "flow",
    "footer",
    "info_rows",
    "marks",
    "person_cells",
    "registrar",
    "school_heading",
    "seal",
    "signature",
]


@dataclass(frozen=True)
class Block:
    """A paragraph in a flow: shrinks a step at a time, then wraps, to stay inside its box."""

    text: str
    size: float
    bold: bool = False
    align: str = "C"
    min_size: float = 0.0  # smallest size on one line before wrapping; default: size
    wrap_min: float = 0.0  # smallest size when wrapping; default: min_size
    max_lines: int = 3
    before: float = 0.0  # space above, mm
    color: Color = INK
    leading: float = 1.35
    tracking: float = 0.0  # extra space between characters, in ems; for titles on one line


def _fit(doc: Document, block: Block, width: float, scale: float) -> tuple[float, list[str]]:
    size = block.size * scale
    min_size = (block.min_size or block.size) * scale
    wrap_min = (block.wrap_min or block.min_size or block.size) * scale
    candidate = size
    # Widths grow with the size.
    unit_width = doc.width(block.text, 1.0, block.bold) + tracked(block.text, 1.0, block.tracking)
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


def flow(
    doc: Document,
    blocks: Sequence[Block],
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

    Raises:
        RenderError: the blocks do not fit even at the smallest scale.
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


def marks(doc: Document, content: DocumentContent, y: float) -> None:
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


def seal(doc: Document, x: float, y: float, size: float = 32.0) -> None:
    """The school's seal; where the school has configured none, a red box marks its place."""
    if doc.seal_mark is not None:
        doc.mark(doc.seal_mark, x, y, size)
        return
    doc.set_draw_color(*SEAL_RED)
    doc.set_line_width(0.7)
    doc.rect(x, y, size, size)
    doc.set_line_width(0.25)
    doc.rect(x + 1.5, y + 1.5, size - 3, size - 3)
    doc.put(x, y + size * 0.28, size, "校印", 15, bold=True, align="C", color=SEAL_RED)
    doc.put(x, y + size * 0.58, size, "Seal", 9, align="C", color=SEAL_RED)


def footer(
    doc: Document,
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
    doc.picture(qr, MARGIN, top + 3, 23, 23)
    x = MARGIN + 27
    width = CONTENT_W - 27 - (32 if numbered else 0)
    issued = content.issued_on
    blocks = [
        Block(
            f"驗證網站 Verification site: {content.school.verify_url}",
            8,
            bold=True,
            align="L",
            wrap_min=6.5,
            max_lines=2,
        ),
        Block(f"文件編號 Document No.: {content.document_number}", 7.5, align="L", wrap_min=6),
        Block(
            f"發證日期 Date of issue: {roc_date(issued)}（{en_date(issued)}）",
            7.5,
            align="L",
            wrap_min=6,
        ),
        Block(
            "本文件為經數位簽章之電子文件，請將原始檔案上傳至驗證網站查驗；列印或另存之檔案無法驗證。",
            6.5,
            align="L",
            color=GREY,
            wrap_min=5.5,
            before=0.8,
        ),
        Block(
            "This document is digitally signed. To verify it, upload the original file to the "
            "verification site; printed or re-saved copies cannot be verified.",
            6.5,
            align="L",
            color=GREY,
            wrap_min=5.5,
        ),
    ]
    flow(doc, blocks, x, top + 2.5, width, PAGE_H - 10)
    if numbered:
        right = PAGE_W - MARGIN - 30
        doc.put(right, top + 3, 30, f"第 {page} 頁／共 {pages} 頁", 8, align="R")
        doc.put(right, top + 7, 30, f"Page {page} of {pages}", 8, align="R")


def emblem(doc: Document, y: float, size: float) -> float:
    """The school's emblem centred at ``y``; returns where it ends (``y`` if there is none)."""
    if doc.emblem_mark is None:
        return y
    doc.mark(doc.emblem_mark, (PAGE_W - size) / 2, y, size)
    return y + size


def diploma_frame(doc: Document) -> None:
    """The double border of a diploma."""
    doc.set_draw_color(*FRAME)
    doc.set_line_width(1.0)
    doc.rect(8, 8, PAGE_W - 16, PAGE_H - 16)
    doc.set_line_width(0.3)
    doc.rect(10.5, 10.5, PAGE_W - 21, PAGE_H - 21)


def signature(doc: Document, x: float, y: float, width: float, lines: Sequence[Block]) -> float:
    """A signing line with the signer's name and office below it."""
    doc.set_draw_color(*INK)
    doc.set_line_width(0.3)
    doc.line(x, y, x + width, y)
    return flow(doc, lines, x, y + 1.5, width, y + 40)


def registrar(
    doc: Document,
    content: DocumentContent,
    y: float,
    *,
    english: bool = False,
    seal_x: float = MARGIN + 14,
    seal_size: float = 30.0,
) -> None:
    """The seal, and to its right the signer's line: name, title, office; from ``y`` down."""
    school = content.school
    seal(doc, seal_x, y, seal_size)
    name_zh, name_en, title_zh, title_en = school.signer()
    if english:
        lines = [
            Block(name_en, 11, bold=True, min_size=8, max_lines=2),
            Block(title_en, 8.5, min_size=7, max_lines=2),
            Block(school.name_en, 8, color=GREY, min_size=7, max_lines=2),
        ]
    else:
        lines = [
            Block(f"{title_zh}　{name_zh}", 11, bold=True, min_size=9, max_lines=2),
            Block(f"{name_en}, {title_en}", 8, min_size=7, max_lines=2),
            Block(f"{school.registrar_zh}　{school.registrar_en}", 7, color=GREY, max_lines=2),
        ]
    x = max(104.0, seal_x + seal_size + 6)
    signature(doc, x, y + seal_size / 2, PAGE_W - MARGIN - x, lines)


@dataclass(frozen=True)
class Cell:
    """A labelled value: bilingual label, then value lines (each may wrap)."""

    label_zh: str
    label_en: str
    values: tuple[str, ...]
    span: int = 1  # 1: half the width, 2: the full width


_LABEL_W = 30.0
_VALUE_SIZE = 8.5


def _cell_lines(doc: Document, cell: Cell, width: float) -> list[tuple[str, float, bool]]:
    """(text, size, bold) lines of a cell's value; the first value is bold."""
    out: list[tuple[str, float, bool]] = []
    for n, value in enumerate(cell.values):
        size = _VALUE_SIZE if n == 0 else _VALUE_SIZE - 0.5
        for line in doc.wrap(value, width, size, n == 0):
            out.append((line, size, n == 0))
    return out


def info_rows(
    doc: Document, rows: Sequence[Sequence[Cell]], y: float, *, draw: bool = True
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


def person_cells(content: DocumentContent) -> list[list[Cell]]:
    """The holder and their degree as labelled cells: name, ID, birth, college, degree."""
    g = content.graduate
    birth = iso_date(g.birth_date)
    graduated = iso_date(g.graduation_date)
    return [
        [Cell("姓名", "Name", (g.name_zh, g.name_en), span=2)],
        [
            Cell("學號", "Student ID", (g.student_id,)),
            Cell("出生日期", "Date of Birth", (roc_date(birth), en_date(birth))),
        ],
        [Cell("學院", "College", (g.college_zh, g.college_en), span=2)],
        [Cell("系所", "Department", (g.department_zh, g.department_en), span=2)],
        [
            Cell("學位", "Degree", (g.degree_zh, g.degree_en)),
            Cell("畢業日期", "Date of Graduation", (roc_date(graduated), en_date(graduated))),
        ],
    ]


def school_heading(
    doc: Document, content: DocumentContent, y: float, *, draw: bool = True
) -> float:
    """The school's name in Chinese and English, centred, its emblem at the left; returns where
    it ends."""
    school = content.school
    if draw and doc.emblem_mark is not None:
        doc.mark(doc.emblem_mark, MARGIN, y - 1, 15)
    blocks = [
        Block(school.name_zh, 17, bold=True, min_size=13, max_lines=2),
        Block(school.name_en, 11, min_size=9, max_lines=2),
    ]
    return flow(doc, blocks, MARGIN, y, CONTENT_W, y + 30, draw=draw)
