"""The English diploma."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, GREY, MARGIN, Document
from authority.render.primitives import (
    Block,
    diploma_frame,
    emblem,
    flow,
    footer,
    marks,
    seal,
    signature,
)
from authority.render.wording import en_date, iso_date


def diploma_en(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: emblem, school, title, the holder, the degree conferred, seal and president."""
    g, school = content.graduate, content.school
    doc.add_page()
    diploma_frame(doc)
    marks(doc, content, 14)
    top = emblem(doc, 19, 20)
    blocks = [
        Block(school.name_en, 26, bold=True, min_size=20, wrap_min=16, max_lines=2),
        Block(school.name_zh, 13, color=GREY, before=1),
        Block("DIPLOMA", 28, bold=True, before=6),
    ]
    if content.certificate_number:
        blocks.append(Block(f"Diploma No. {content.certificate_number}", 9.5, before=1))
    blocks += [
        Block("This is to certify that", 13, before=7),
        Block(g.name_en, 24, bold=True, min_size=18, wrap_min=13, max_lines=3, before=4),
        Block(f"born on {en_date(iso_date(g.birth_date))},", 13, before=3),
        Block(
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
        Block(g.degree_en, 20, bold=True, min_size=15, wrap_min=13, max_lines=2, before=4),
        Block(
            "with all the rights, privileges and honors pertaining thereto.",
            13,
            min_size=11,
            before=4,
        ),
        Block(f"Conferred on {en_date(iso_date(g.graduation_date))}.", 13, before=1),
    ]
    flow(doc, blocks, MARGIN + 5, top + (3 if top > 19 else 7), CONTENT_W - 10, 190)
    seal(doc, 36, 198, 34)
    signature(
        doc,
        112,
        216,
        68,
        [
            Block(school.president_en, 14, bold=True, min_size=10, max_lines=2),
            Block(school.president_title_en, 11),
            Block(school.name_en, 9, color=GREY, min_size=7, max_lines=2),
        ],
    )
    footer(doc, content, qr)
