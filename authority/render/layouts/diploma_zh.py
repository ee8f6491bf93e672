"""學位證書: the traditional Chinese diploma, in the wording of the Degree Conferral Act."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, GREY, MARGIN, PAGE_W, Document
from authority.render.primitives import (
    Block,
    diploma_frame,
    emblem,
    flow,
    footer,
    marks,
    seal,
)
from authority.render.wording import PROGRAM_BY_LEVEL, iso_date, roc_date

_SEAL = 34.0


def diploma_zh(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: emblem, school, title, number, the holder, the conferral sentence, then
    directly below 此證 the seal and the president, and the date of conferral."""
    g, school = content.graduate, content.school
    doc.add_page()
    diploma_frame(doc)
    marks(doc, content, 14)
    top = emblem(doc, 19, 22)
    y = flow(
        doc,
        [
            Block(school.name_zh, 30, bold=True, min_size=22, max_lines=2, leading=1.25),
            Block("學位證書", 38, bold=True, before=4, leading=1.3, tracking=0.6),
        ],
        MARGIN,
        top + (3 if top > 19 else 11),
        CONTENT_W,
        top + 56,
    )
    x, width = 34.0, PAGE_W - 34.0 - 28.0
    if content.certificate_number:
        doc.put(x, y + 1, width, f"證書字號：{content.certificate_number}", 10.5, align="R")
        y += 6
    # The holder: "學生" and, after it, the name in large bold type.
    label_w = doc.width("學生　", 18)
    name = Block(g.name_zh, 26, bold=True, align="L", min_size=18, wrap_min=14, max_lines=2)
    name_top = y + 8
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
        line("此證", before=3),
    ]
    y = flow(doc, body, x, y + 3, width, 182)
    # The seal and the president follow 此證 directly; the date of conferral below them.
    seal_top = y + 6
    seal(doc, 38, seal_top, _SEAL)
    title = school.president_title_zh
    title_w = doc.width(title + "　", 18)
    doc.put(104, seal_top + 12, title_w, title, 18)
    flow(
        doc,
        [Block(school.president_zh, 24, bold=True, align="L", min_size=16, max_lines=2)],
        104 + title_w,
        seal_top + 9,
        PAGE_W - 104 - title_w - 24,
        seal_top + 30,
    )
    graduated = roc_date(iso_date(g.graduation_date), chinese_numerals=True)
    doc.put(MARGIN, seal_top + _SEAL + 8, CONTENT_W, graduated, 18, align="C", tracking=0.25)
    if content.version > 1:
        note = f"補發日期：{roc_date(content.issued_on)}"
        doc.put(MARGIN, seal_top + _SEAL + 18, CONTENT_W, note, 9, align="C", color=GREY)
    footer(doc, content, qr)
