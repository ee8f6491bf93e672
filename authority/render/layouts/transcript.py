"""中英文成績單: the bilingual transcript, paginated before it is drawn.

Courses are grouped by term under a heading with the credits earned and the term's average; a
term heading never ends a page, and a term that goes on over a page break is headed again. The
last page gives the total credits, the overall average and, where the school prints it, the
rank. Credits and averages follow the school's rules (``TranscriptRules``). Every page repeats
the school, the holder and the document number and says how many pages there are; the course
rows are ruled across the same width as the header and the term headings.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL.Image import Image

from authority.config import TranscriptRules
from authority.content import DocumentContent
from authority.records import Course
from authority.render.document import (
    CONTENT_W,
    GREY,
    HEADER_FILL,
    INK,
    MARGIN,
    PAGE_W,
    PT,
    RULE,
    Color,
    Document,
)
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
from authority.render.wording import GRADE_EN, Totals, term_heading, totals

# Transcript columns: code, title, credits, grade (widths in mm, summing to the content width).
_COLUMNS = (
    ("科目代碼", "Code", 24.0, "L"),
    ("科目名稱", "Course Title", 112.0, "L"),
    ("學分", "Credits", 16.0, "C"),
    ("成績", "Grade", 18.0, "C"),
)
_TABLE_BOTTOM = 246.0
_HEADER_H = 9.0
_BAND_H = 5.6
_ROW_PAD = 0.8
_ROW_LEADING = 1.25
_TITLE_ZH, _TITLE_EN = 8.5, 7.5


@dataclass(frozen=True)
class _Line:
    x: float  # offset in the cell
    text: str
    size: float
    bold: bool = False
    color: Color = INK


@dataclass(frozen=True)
class _Row:
    """One course, laid out: the lines of each cell, and the row's height."""

    cells: tuple[tuple[tuple[_Line, ...], ...], ...]  # per cell: lines, each a run of pieces
    height: float


@dataclass(frozen=True)
class _Band:
    """The heading of a term's courses: academic year and semester, credits earned."""

    term: str
    totals: Totals
    continued: bool = False

    @property
    def height(self) -> float:
        return _BAND_H


def _title_lines(doc: Document, course: Course, width: float) -> list[tuple[_Line, ...]]:
    """The Chinese title, then the English one on the same line when both fit."""
    zh_lines = doc.wrap(course.course_zh, width, _TITLE_ZH)
    en_lines = doc.wrap(course.course_en, width, _TITLE_EN, False)
    out: list[tuple[_Line, ...]] = [(_Line(0, line, _TITLE_ZH),) for line in zh_lines[:-1]]
    last = zh_lines[-1]
    gap = doc.width("　", _TITLE_ZH)
    joined_x = doc.width(last, _TITLE_ZH) + gap
    if len(en_lines) == 1 and joined_x + doc.width(en_lines[0], _TITLE_EN) <= width:
        out.append((_Line(0, last, _TITLE_ZH), _Line(joined_x, en_lines[0], _TITLE_EN, color=GREY)))
    else:
        out.append((_Line(0, last, _TITLE_ZH),))
        out += [(_Line(0, line, _TITLE_EN, color=GREY),) for line in en_lines]
    return out


def _course_row(doc: Document, course: Course) -> _Row:
    pad = 1.0
    grade = course.grade.strip()
    grade_lines = [(_Line(0, grade, 8.5, bold=True),)]
    if grade in GRADE_EN:
        grade_lines.append((_Line(0, GRADE_EN[grade], 6.5, color=GREY),))
    cells = (
        tuple((_Line(0, line, 8),) for line in doc.wrap(course.course_code, 24.0 - 2 * pad, 8)),
        tuple(_title_lines(doc, course, 112.0 - 2 * pad)),
        ((_Line(0, str(course.credits), 8.5),),),
        tuple(grade_lines),
    )
    height = max(
        sum(max(piece.size for piece in line) * PT * _ROW_LEADING for line in cell)
        for cell in cells
    )
    return _Row(cells, height + 2 * _ROW_PAD)


def _table_header(doc: Document, y: float) -> float:
    doc.set_fill_color(*HEADER_FILL)
    doc.rect(MARGIN, y, CONTENT_W, _HEADER_H, style="F")
    x = MARGIN
    for zh, en, width, align in _COLUMNS:
        pad = 1.0 if align == "L" else 0.0
        doc.put(x + pad, y + 0.8, width - pad, zh, 8, bold=True, align=align)
        doc.put(x + pad, y + 4.6, width - pad, en, 6.5, align=align, color=GREY)
        x += width
    doc.set_draw_color(*INK)
    doc.set_line_width(0.3)
    doc.line(MARGIN, y, PAGE_W - MARGIN, y)
    doc.line(MARGIN, y + _HEADER_H, PAGE_W - MARGIN, y + _HEADER_H)
    return y + _HEADER_H


def _table_band(doc: Document, band: _Band, y: float, rules: TranscriptRules) -> float:
    text = term_heading(band.term) + ("（續）(continued)" if band.continued else "")
    doc.put(MARGIN + 1, y + 0.6, 100, text, 8, bold=True, leading=1.5)
    if not band.continued:
        summary = (
            f"實得學分 Credits: {band.totals.earned}　"
            f"學期平均 Average: {band.totals.average_text(rules)}"
        )
        doc.put(PAGE_W - MARGIN - 75, y + 0.6, 74, summary, 7.5, align="R", color=GREY, leading=1.6)
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.15)
    doc.line(MARGIN, y + _BAND_H, PAGE_W - MARGIN, y + _BAND_H)
    return y + _BAND_H


def _table_row(doc: Document, row: _Row, y: float) -> float:
    x = MARGIN
    for cell, (_, _, width, align) in zip(row.cells, _COLUMNS, strict=True):
        pad = 1.0 if align == "L" else 0.0
        line_y = y + _ROW_PAD
        for line in cell:
            height = max(piece.size for piece in line) * PT * _ROW_LEADING
            for piece in line:
                doc.put(
                    x + pad + piece.x,
                    line_y + (height - piece.size * PT * _ROW_LEADING),
                    width - 2 * pad - piece.x,
                    piece.text,
                    piece.size,
                    bold=piece.bold,
                    align=align,
                    color=piece.color,
                    leading=_ROW_LEADING,
                )
            line_y += height
        x += width
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.1)
    doc.line(MARGIN, y + row.height, PAGE_W - MARGIN, y + row.height)
    return y + row.height


def _transcript_heading(
    doc: Document, content: DocumentContent, *, first: bool, draw: bool = True
) -> float:
    """School, title and the holder (in full on the first page); returns where it ends."""
    if draw:
        marks(doc, content, 10)
    y = school_heading(doc, content, 16, draw=draw)
    title = Block("中英文成績單　Academic Transcript", 13, bold=True)
    y = flow(doc, [title], MARGIN, y + 1, CONTENT_W, y + 10, draw=draw)
    g = content.graduate
    if first:
        rows = person_cells(content)
    else:
        rows = [
            [
                Cell("姓名", "Name", (g.name_zh, g.name_en)),
                Cell("學號", "Student ID", (g.student_id,)),
            ]
        ]
    return info_rows(doc, rows, y + 2, draw=draw) + 4


def _transcript_summary(
    doc: Document, content: DocumentContent, overall: Totals, y: float, *, draw: bool = True
) -> float:
    """Totals, rank and the rules on the left, seal and signer on the right; returns the end."""
    rules = content.school.transcript
    graduate_study = content.graduate.level != "bachelor"
    passing = rules.pass_graduate if graduate_study else rules.pass_bachelor
    letter = rules.letter_pass_graduate if graduate_study else rules.letter_pass_bachelor
    weighted = rules.average == "credit_weighted"
    notes = [
        Block(f"實得學分總計 Total Credits Earned: {overall.earned}", 10, bold=True, align="L"),
        Block(
            f"總平均 Overall Average: {overall.average_text(rules)}",
            10,
            bold=True,
            align="L",
            before=0.5,
        ),
    ]
    rank = content.rank
    if rules.print_rank and rank is not None:
        text = f"系排名 Department Rank: {rank.department_rank} / {rank.department_size}"
        if rank.class_rank is not None and rank.class_size is not None:
            text += f"　班排名 Class Rank: {rank.class_rank} / {rank.class_size}"
        notes.append(Block(text, 8.5, align="L", before=0.5, wrap_min=7.5, max_lines=2))
    zh_average = "依學分加權" if weighted else "各科等權"
    en_average = "weighted by credits" if weighted else "each course counted once"
    failed_zh = "含" if rules.average_includes_failed else "不含"
    failed_en = "including" if rules.average_includes_failed else "excluding"
    notes += [
        Block(
            f"及格標準：{passing} 分（等第制 {letter}）；抵免：學分抵免；停修：不計學分。"
            f"平均{zh_average}，{failed_zh}不及格科目；通過、抵免、停修不列入平均。",
            7.5,
            align="L",
            color=GREY,
            wrap_min=6.5,
            max_lines=3,
            before=1.5,
        ),
        Block(
            f"Passing grade: {passing} out of 100 ({letter} in letter grades). "
            "Waived: credits transferred. Withdrawn: no credit. "
            f"Averages are {en_average}, {failed_en} failed courses; pass/fail, waived and "
            "withdrawn courses are not averaged.",
            7.5,
            align="L",
            color=GREY,
            wrap_min=6.5,
            max_lines=4,
        ),
        Block("以下空白　End of Transcript", 8, align="L", color=GREY, before=2),
    ]
    end = flow(doc, notes, MARGIN, y + 1, 86, y + 52, draw=draw)
    if draw:
        registrar(doc, content, y, seal_x=110, seal_size=26)
    return max(end, y + 30)


def transcript(doc: Document, content: DocumentContent, qr: Image) -> None:
    """As many pages as the courses need, the totals and the registrar on the last."""
    level, rules = content.graduate.level, content.school.transcript
    by_term: dict[str, list[Course]] = {}
    for course in content.courses:
        by_term.setdefault(course.term, []).append(course)
    items: list[_Band | _Row] = []
    for term in sorted(by_term):
        items.append(_Band(term, totals(by_term[term], level, rules)))
        items += [_course_row(doc, course) for course in by_term[term]]
    overall = totals(content.courses, level, rules)

    # Paginate first, so that every page can say how many pages there are. A term heading
    # never ends a page; a term that goes on over a page break is headed again.
    first_top = _transcript_heading(doc, content, first=True, draw=False) + _HEADER_H
    later_top = _transcript_heading(doc, content, first=False, draw=False) + _HEADER_H
    summary_h = _transcript_summary(doc, content, overall, 0, draw=False) + 3
    pages: list[list[_Band | _Row]] = [[]]
    y = first_top
    band: _Band | None = None
    for n, item in enumerate(items):
        needed = item.height
        if isinstance(item, _Band):
            band = item
            following = items[n + 1] if n + 1 < len(items) else None
            needed += following.height if following is not None else 0.0
        if y + needed > _TABLE_BOTTOM and pages[-1]:
            pages.append([])
            y = later_top
            if isinstance(item, _Row) and band is not None:
                carried = _Band(band.term, band.totals, continued=True)
                pages[-1].append(carried)
                y += carried.height
        pages[-1].append(item)
        y += item.height
    if y + summary_h > _TABLE_BOTTOM:
        pages.append([])

    for number, page_items in enumerate(pages, start=1):
        doc.add_page()
        y = _transcript_heading(doc, content, first=number == 1)
        if page_items:
            y = _table_header(doc, y)
            for item in page_items:
                y = (
                    _table_band(doc, item, y, rules)
                    if isinstance(item, _Band)
                    else _table_row(doc, item, y)
                )
        if number == len(pages):
            _transcript_summary(doc, content, overall, y + 3)
        footer(doc, content, qr, page=number, pages=len(pages), numbered=True)
