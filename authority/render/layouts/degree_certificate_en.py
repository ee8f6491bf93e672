"""The English degree certificate: evidence of the degree conferred, not a replacement diploma."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, GREY, MARGIN, Document
from authority.render.primitives import Block, emblem, flow, footer, marks, registrar
from authority.render.wording import en_date, iso_date


def degree_certificate_en(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: school, title, the holder and degree, the date of issue, and the seal beside
    the name and title of who signs it for the school."""
    g, school = content.graduate, content.school
    doc.add_page()
    marks(doc, content, 12)
    top = emblem(doc, 18, 18)
    blocks = [
        Block(school.name_en, 22, bold=True, min_size=17, wrap_min=14, max_lines=2),
        Block(school.name_zh, 12, color=GREY, before=1),
        Block("DEGREE CERTIFICATE", 22, bold=True, before=10),
        Block("This is to certify that", 12, before=12),
        Block(g.name_en, 20, bold=True, min_size=16, wrap_min=12, max_lines=3, before=4),
        Block(
            f"Student ID {g.student_id}, born on {en_date(iso_date(g.birth_date))},",
            12,
            min_size=10,
            before=3,
        ),
        Block(
            f"has completed all the requirements of the {g.department_en}, {g.college_en}, "
            "and was awarded the degree of",
            12,
            min_size=11,
            wrap_min=10,
            max_lines=4,
            before=2,
            leading=1.45,
        ),
        Block(g.degree_en, 17, bold=True, min_size=13, wrap_min=12, max_lines=2, before=4),
        Block(f"on {en_date(iso_date(g.graduation_date))}.", 12, before=2),
        Block(
            f"This certificate is issued on {en_date(content.issued_on)} as evidence of the "
            "degree conferred; it does not replace the diploma.",
            10,
            color=GREY,
            wrap_min=8.5,
            max_lines=3,
            before=10,
        ),
    ]
    flow(doc, blocks, MARGIN + 5, top + (3 if top > 18 else 6), CONTENT_W - 10, 198)
    registrar(doc, content, 206, english=True)
    footer(doc, content, qr)
