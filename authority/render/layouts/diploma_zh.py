"""學位證書: the traditional Chinese diploma, in the wording of the Degree Conferral Act."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, MARGIN, PAGE_W, Document
from authority.render.primitives import Block, diploma_frame, flow, footer, marks, seal
from authority.render.wording import PROGRAM_BY_LEVEL, iso_date, roc_date


def diploma_zh(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: school, title, the holder, the conferral sentence, seal, president, date."""
    g, school = content.graduate, content.school
    doc.add_page()
    diploma_frame(doc)
    marks(doc, content, 14)
    y = flow(
        doc,
        [
            Block(school.name_zh, 30, bold=True, min_size=22, max_lines=2, leading=1.25),
            Block("學位證書", 38, bold=True, before=4, leading=1.3, tracking=0.6),
        ],
        MARGIN,
        30,
        CONTENT_W,
        84,
    )
    x, width = 34.0, PAGE_W - 34.0 - 28.0
    # The holder: "學生" and, after it, the name in large bold type.
    label_w = doc.width("學生　", 18)
    name = Block(g.name_zh, 26, bold=True, align="L", min_size=18, wrap_min=14, max_lines=2)
    name_top = y + 14
    doc.put(x, name_top + 1.8, label_w, "學生", 18)
    y = flow(doc, [name], x + label_w, name_top, width - label_w, name_top + 26)
    program = g.program.strip() or PROGRAM_BY_LEVEL[g.level]
    birth = roc_date(iso_date(g.birth_date), chinese_numerals=True)

    def line(text: str, before: float = 0.0) -> Block:
        return Block(text, 18, align="L", min_size=15, wrap_min=13, leading=2.0, before=before)

    body = [
        line(f"係{birth}生，"),
        line(f"在本校{g.college_zh}{g.department_zh}{program}修業期滿，"),
        line("經本校審查成績及格，准予畢業，"),
        line(f"依學位授予法之規定授予{g.degree_zh}學位。"),
        line("此證", before=5),
    ]
    flow(doc, body, x, y + 4, width, 176)
    seal(doc, 38, 182, 34)
    doc.put(110, 194, 20, "校長", 18)
    flow(
        doc,
        [Block(school.president_zh, 24, bold=True, align="L", min_size=16, max_lines=2)],
        128,
        191,
        PAGE_W - 128 - 20,
        218,
    )
    graduated = roc_date(iso_date(g.graduation_date), chinese_numerals=True)
    doc.put(MARGIN, 228, CONTENT_W, graduated, 18, align="C")
    footer(doc, content, qr)
