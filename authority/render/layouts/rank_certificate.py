"""學士班名次證明書: a bachelor's graduate's rank in the department and, if known, the class."""

from __future__ import annotations

from PIL.Image import Image

from authority.content import DocumentContent
from authority.render.document import CONTENT_W, GREY, MARGIN, Document
from authority.render.primitives import (
    Block,
    Cell,
    flow,
    footer,
    info_rows,
    marks,
    person_cells,
    registrar,
    school_heading,
)


def rank_certificate(doc: Document, content: DocumentContent, qr: Image) -> None:
    """One page: the holder's details, the ranks, the certifying sentence, the registrar."""
    rank = content.rank
    assert rank is not None  # DocumentContent guarantees it for this type
    doc.add_page()
    marks(doc, content, 12)
    y = school_heading(doc, content, 22)
    y = flow(
        doc,
        [
            Block("學士班名次證明書", 20, bold=True, before=3),
            Block("Certificate of Undergraduate Class Rank", 13, bold=True),
        ],
        MARGIN,
        y,
        CONTENT_W,
        y + 25,
    )
    rows = person_cells(content)
    rows.append(
        [
            Cell(
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
                Cell(
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
    y = info_rows(doc, rows, y + 5)
    y = flow(
        doc,
        [
            Block(
                "茲證明上列學生於本校修業期滿，成績及格，准予畢業，其畢業成績名次如上。",
                11,
                align="L",
                wrap_min=9,
                before=6,
                leading=1.6,
            ),
            Block(
                "This is to certify that the student named above has completed the "
                "undergraduate program of the University and graduated, ranking as stated above.",
                10,
                align="L",
                wrap_min=8.5,
                leading=1.45,
            ),
            Block(
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
    registrar(doc, content, max(y + 8, 206))
    footer(doc, content, qr)
