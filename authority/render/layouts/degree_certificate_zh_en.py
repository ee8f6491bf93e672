"""中英文並列學位證明書: the degree certificate with Chinese and English side by side (NTNU)."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, MARGIN, RULE, Document
from authority.render.primitives import (
    Block,
    flow,
    footer,
    info_rows,
    marks,
    person_cells,
    registrar,
    school_heading,
)
from authority.render.wording import PROGRAM_BY_LEVEL, en_date, iso_date, roc_date

_GUTTER = 8.0


def degree_certificate_zh_en(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: school, bilingual title, the holder's details, the certifying sentence in
    both languages side by side, the date of issue, the seal and who signs it."""
    g = content.graduate
    doc.add_page()
    marks(doc, content, 12)
    y = school_heading(doc, content, 22)
    y = flow(
        doc,
        [
            Block("學位證明書", 20, bold=True, before=2, tracking=0.3),
            Block("Certificate of Degree", 13, bold=True),
        ],
        MARGIN,
        y,
        CONTENT_W,
        y + 24,
    )
    y = info_rows(doc, person_cells(content), y + 4)
    program = g.program.strip() or PROGRAM_BY_LEVEL[g.level]
    graduated = iso_date(g.graduation_date)
    column = (CONTENT_W - _GUTTER) / 2
    zh = [
        Block(
            f"茲證明{g.name_zh}在本校{g.college_zh}{g.department_zh}{program}修業期滿，"
            f"成績及格，於{roc_date(graduated)}畢業，依學位授予法之規定授予{g.degree_zh}學位。",
            10.5,
            align="L",
            wrap_min=9,
            max_lines=8,
            leading=1.7,
        ),
        Block(f"此證明書於{roc_date(content.issued_on)}核發。", 9, align="L", before=2),
    ]
    en = [
        Block(
            f"This is to certify that {g.name_en} has completed the program of the "
            f"{g.department_en}, {g.college_en}, and, having fulfilled all the requirements, "
            f"graduated on {en_date(graduated)} and was awarded the degree of {g.degree_en}.",
            10,
            align="L",
            wrap_min=8.5,
            max_lines=9,
            leading=1.5,
        ),
        Block(f"Issued on {en_date(content.issued_on)}.", 9, align="L", before=2),
    ]
    top = y + 7
    end_zh = flow(doc, zh, MARGIN, top, column, 212)
    end_en = flow(doc, en, MARGIN + column + _GUTTER, top, column, 212)
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.15)
    middle = MARGIN + column + _GUTTER / 2
    doc.line(middle, top, middle, max(end_zh, end_en))
    registrar(doc, content, min(max(end_zh, end_en) + 8, 218), seal_x=MARGIN + 6)
    footer(doc, content, qr)
