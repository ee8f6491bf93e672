"""Rendering, checked on the PDFs with poppler (pdftotext, pdffonts, pdfinfo) and qpdf."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from authority.config import DEMO_SCHOOL
from authority.content import DocumentContent
from authority.fonts import FontFace, FontSet, default_font_set, describe, uncovered
from authority.records import Course, Graduate, Rank, iter_by_student, parse_csv
from authority.render import Renderer, roc_date
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import ConfigurationError, RenderError

ISSUED_ON = dt.date(2026, 7, 1)
# Without seal and emblem images: the seal's place is marked by the red 校印 / Seal box these
# tests look for (tests/documents/ checks the configured images).
PLAIN_SCHOOL = dataclasses.replace(DEMO_SCHOOL, seal_image="", emblem_image="")
PAGE_W_PT = 595.28
MARGIN_PT = 20 / 25.4 * 72 - 6  # the 20 mm margins, less a little for glyph side bearings
LONG_TRANSCRIPT = "B11102001"  # 王大堃: a full bachelor's transcript, two pages


def _sample(kind: str) -> tuple[object, ...]:
    data = resources.files("authority").joinpath("sample_data", f"{kind}.csv").read_bytes()
    report = parse_csv(kind, data)
    assert not report.rejected, [str(e) for e in report.rejected]
    return report.accepted


@dataclass(frozen=True)
class Samples:
    graduates: dict[str, Graduate]
    courses: dict[str, list[Course]]
    ranks: dict[str, Rank]

    def by_name(self, name_zh: str) -> Graduate:
        return next(g for g in self.graduates.values() if g.name_zh == name_zh)


@pytest.fixture(scope="module")
def samples() -> Samples:
    graduates = [g for g in _sample("graduates") if isinstance(g, Graduate)]
    courses = [c for c in _sample("courses") if isinstance(c, Course)]
    ranks = [r for r in _sample("ranks") if isinstance(r, Rank)]
    return Samples(
        {g.student_id: g for g in graduates},
        iter_by_student(courses),
        {r.student_id: r for r in ranks},
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(default_font_set())


def content(
    samples: Samples, code: str, graduate: Graduate, *, version: int = 1, number: int = 1
) -> DocumentContent:
    doc_type = DOCUMENT_TYPES[code]
    return DocumentContent(
        doc_type=doc_type,
        document_number=f"DEMO-{doc_type.short}-2026-{number:06d}",
        issued_on=ISSUED_ON,
        school=PLAIN_SCHOOL,
        graduate=graduate,
        courses=tuple(samples.courses.get(graduate.student_id, ())),
        rank=samples.ranks.get(graduate.student_id),
        version=version,
    )


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def write(tmp_path: Path, pdf: bytes, name: str = "doc.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return str(path)


def text_of(path: str, *pages: int) -> str:
    first_last = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return run("pdftotext", "-enc", "UTF-8", *first_last, path, "-")


def pages_of(path: str) -> int:
    match = re.search(r"^Pages:\s+(\d+)", run("pdfinfo", path), re.M)
    assert match
    return int(match.group(1))


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def ink(self) -> tuple[float, float]:
        """The vertical band the glyphs fill: poppler's box includes the font's tall line gap."""
        height = self.y1 - self.y0
        return self.y0 + 0.2 * height, self.y1 - 0.15 * height


def words_of(path: str) -> list[Word]:
    html = run("pdftotext", "-bbox", "-enc", "UTF-8", path, "-")
    out = []
    for page, body in enumerate(html.split("<page ")[1:], start=1):
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            body,
        ):
            x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
            out.append(Word(page, m.group(5), x0, y0, x1, y1))
    return out


def overlaps(words: list[Word]) -> Iterator[tuple[Word, Word]]:
    for i, a in enumerate(words):
        a_top, a_bottom = a.ink()
        for b in words[i + 1 :]:
            b_top, b_bottom = b.ink()
            if (
                a.page == b.page
                and a.x0 < b.x1 - 0.5
                and b.x0 < a.x1 - 0.5
                and a_top < b_bottom - 0.5
                and b_top < a_bottom - 0.5
            ):
                yield a, b


def fonts_of(path: str) -> list[tuple[str, str, str]]:
    """(name, emb, sub) of each font pdffonts lists."""
    rows = run("pdffonts", path).splitlines()[2:]
    return [(row.split()[0], row.split()[-5], row.split()[-4]) for row in rows if row.strip()]


def assert_sound(path: str) -> None:
    """qpdf finds nothing wrong; every font is embedded as a subset; no text overlaps or
    runs into the page margins."""
    check = subprocess.run(["qpdf", "--check", path], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout
    fonts = fonts_of(path)
    assert fonts
    for name, emb, sub in fonts:
        assert (emb, sub) == ("yes", "yes"), name
        assert re.match(r"^[A-Z]{6}\+", name), name
    words = words_of(path)
    for word in words:
        assert word.x0 >= MARGIN_PT - 12 and word.x1 <= PAGE_W_PT - MARGIN_PT + 12, word
    assert not list(overlaps(words))


# Each document type, for a holder whose name tests the fonts or the layout.
CASES = [
    ("diploma_zh", "王大堃"),
    ("diploma_zh", "黃𡘙瑜"),  # U+21619, CJK Extension B
    ("diploma_en", "瑪莉亞"),  # an English name of 67 characters
    ("transcript", "陳喆"),
    ("transcript", "王大堃"),
    ("rank_certificate", "張家豪"),
    ("rank_certificate", "黃𡘙瑜"),
    ("degree_certificate_en", "林堃喆"),
    ("degree_certificate_en", "瑪莉亞"),
    ("degree_certificate_zh_en", "黃𡘙瑜"),
    ("degree_certificate_zh_en", "瑪莉亞"),
]


@pytest.mark.parametrize(("code", "name"), CASES)
def test_document_prints_holder_number_and_verification_site(
    samples: Samples, renderer: Renderer, tmp_path: Path, code: str, name: str
) -> None:
    graduate = samples.by_name(name)
    doc = content(samples, code, graduate)
    path = write(tmp_path, renderer.render(doc, print_locked=False))
    text = text_of(path)
    holder = graduate.name_en if code.endswith("_en") else graduate.name_zh
    assert " ".join(holder.split()) in " ".join(text.split())
    assert doc.document_number in text
    assert DEMO_SCHOOL.verify_url in text
    assert "校印" in text and "Seal" in text
    assert "補發" not in text
    assert "@" not in text  # no e-mail address, school or permanent
    school = DEMO_SCHOOL.name_en if code.endswith("_en") else DEMO_SCHOOL.name_zh
    assert school in text
    assert_sound(path)


def test_chinese_diploma_wording_and_roc_dates(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.by_name("王大堃")  # born 2003-03-15, graduated 2026-06-20
    path = write(
        tmp_path, renderer.render(content(samples, "diploma_zh", graduate), print_locked=False)
    )
    text = "".join(text_of(path).split())
    assert "學位證書" in text
    assert "係中華民國九十二年三月十五日生" in text
    assert "在本校電機資訊學院資訊工程學系學士班修業期滿" in text
    assert "經本校審查成績及格，准予畢業，依學位授予法之規定授予工學學士學位。" in text
    assert "校長林明德" in text
    assert "中華民國一百一十五年六月二十日" in text


def test_roc_dates() -> None:
    assert roc_date(dt.date(2026, 6, 20)) == "中華民國 115 年 6 月 20 日"
    assert roc_date(dt.date(2026, 6, 20), chinese_numerals=True) == "中華民國一百一十五年六月二十日"
    assert roc_date(dt.date(2000, 3, 5), chinese_numerals=True) == "中華民國八十九年三月五日"
    assert roc_date(dt.date(2012, 10, 10), chinese_numerals=True) == "中華民國一百零一年十月十日"
    assert (
        roc_date(dt.date(2021, 12, 31), chinese_numerals=True) == "中華民國一百一十年十二月三十一日"
    )
    with pytest.raises(RenderError, match="before 1912"):
        roc_date(dt.date(1911, 12, 31))


def test_long_transcript_runs_to_two_numbered_pages(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.graduates[LONG_TRANSCRIPT]
    doc = content(samples, "transcript", graduate)
    path = write(tmp_path, renderer.render(doc, print_locked=False))
    assert pages_of(path) == 2
    courses = samples.courses[LONG_TRANSCRIPT]
    everything = text_of(path)
    for course in courses:
        assert course.course_code in everything
    for page in (1, 2):
        text = text_of(path, page)
        assert f"第 {page} 頁／共 2 頁" in text
        assert f"Page {page} of 2" in text
        assert graduate.name_zh in text and graduate.name_en in text
        assert graduate.student_id in text
        assert doc.document_number in text
    last = text_of(path, 2)
    assert "Total Credits Earned" in last and "End of Transcript" in last
    assert "Total Credits Earned" not in text_of(path, 1)


def test_transcript_totals_only_credits_earned(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.by_name("陳喆")
    rows = (
        Course(graduate.student_id, "113-1", "EE1001", "電路學", "Electric Circuits", 3, "59"),
        Course(graduate.student_id, "113-1", "EE1002", "電子學", "Electronics", 3, "60"),
        Course(graduate.student_id, "113-2", "EE1003", "電磁學", "Electromagnetics", 3, "停修"),
        Course(graduate.student_id, "113-2", "PHYS1001", "普通物理", "General Physics", 4, "抵免"),
        Course(graduate.student_id, "113-2", "EE1004", "訊號與系統", "Signals", 3, "B-"),
        Course(graduate.student_id, "113-2", "EE1005", "控制系統", "Control Systems", 3, "D"),
    )
    doc = dataclasses.replace(content(samples, "transcript", graduate), courses=rows)
    text = text_of(write(tmp_path, renderer.render(doc, print_locked=False)))
    assert "Total Credits Earned: 10" in text  # 60, 抵免 and B- pass; 59, 停修 and D do not
    assert "Fall 2024" in text and "Spring 2025" in text


def test_rank_certificate_states_both_ranks(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.by_name("張家豪")
    rank = Rank(graduate.student_id, 3, 58, class_rank=2, class_size=30)
    doc = dataclasses.replace(content(samples, "rank_certificate", graduate), rank=rank)
    text = " ".join(text_of(write(tmp_path, renderer.render(doc, print_locked=False))).split())
    assert "全系畢業生 58 人中第 3 名" in text and "Ranked 3 of 58" in text
    assert "全班 30 人中第 2 名" in text and "Ranked 2 of 30" in text


def test_reissue_is_marked(samples: Samples, renderer: Renderer, tmp_path: Path) -> None:
    doc = content(samples, "diploma_zh", samples.by_name("陳喆"), version=2)
    path = write(tmp_path, renderer.render(doc, print_locked=False))
    assert "補發 Reissued (version 2)" in text_of(path)
    assert_sound(path)


def test_metadata_is_deterministic_and_free_of_personal_data(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.by_name("王大堃")
    doc = content(samples, "diploma_en", graduate)
    first = renderer.render(doc, print_locked=False)
    assert renderer.render(doc, print_locked=False) == first
    info = run("pdfinfo", "-isodates", write(tmp_path, first))
    assert re.search(r"^Title:\s+English diploma DEMO-DE-2026-000001$", info, re.M)
    assert re.search(r"^Subject:\s+英文學位證書 DEMO-DE-2026-000001$", info, re.M)
    assert re.search(r"^CreationDate:\s+2026-07-01T", info, re.M)
    assert "@" not in info
    assert graduate.school_email.encode() not in first
    assert graduate.permanent_email.encode() not in first


def test_print_locked_opens_without_password_but_cannot_be_printed(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.by_name("林堃喆")
    doc = content(samples, "degree_certificate_en", graduate)
    path = write(tmp_path, renderer.render(doc, print_locked=True))
    encryption = run("qpdf", "--show-encryption", path)
    assert "R = 6" in encryption  # AES-256
    assert "User password = \n" in encryption or "User password =\n" in encryption
    assert "print low resolution: not allowed" in encryption
    assert "print high resolution: not allowed" in encryption
    assert "extract for any purpose: not allowed" in encryption
    assert "modify anything: not allowed" in encryption
    text = text_of(path)  # no password given
    assert graduate.name_en in text and doc.document_number in text
    assert_sound(path)
    # Every string is encrypted with the rest, so a reader decrypts the language correctly.
    decrypted = tmp_path / "decrypted.pdf"
    run("qpdf", "--qdf", "--object-streams=disable", path, str(decrypted))
    assert b"/Lang (zh-TW)" in decrypted.read_bytes()


def test_two_locked_documents_decrypt_independently(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = samples.graduates[LONG_TRANSCRIPT]
    for n in (1, 2):
        doc = content(samples, "transcript", graduate, number=n)
        path = write(tmp_path, renderer.render(doc, print_locked=True), f"{n}.pdf")
        assert f"DEMO-TR-2026-{n:06d}" in text_of(path)
        assert pages_of(path) == 2


@pytest.mark.parametrize("char", ["\ue000", "\U0002ebf0", "\x07"])
def test_a_character_no_font_has_is_refused_by_code_point_and_field(
    samples: Samples, renderer: Renderer, char: str
) -> None:
    graduate = dataclasses.replace(samples.by_name("王大堃"), name_zh=f"王{char}堃")
    code_point = f"U+{ord(char):04X}"
    with pytest.raises(RenderError, match=re.escape(code_point)) as raised:
        renderer.render(content(samples, "diploma_zh", graduate), print_locked=False)
    assert "name_zh" in raised.value.en
    assert code_point in raised.value.zh and "name_zh" in raised.value.zh
    if char.isprintable():
        assert char in raised.value.en


def test_a_course_title_no_font_has_names_its_row(samples: Samples, renderer: Renderer) -> None:
    graduate = samples.by_name("陳喆")
    doc = content(samples, "transcript", graduate)
    bad = dataclasses.replace(doc.courses[1], course_en="Signals \ue000")
    doc = dataclasses.replace(doc, courses=(doc.courses[0], bad, *doc.courses[2:]))
    with pytest.raises(RenderError, match=r"courses\[1\]\.course_en.*U\+E000"):
        renderer.render(doc, print_locked=False)


def test_rare_character_only_in_fallback_font_is_embedded(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    # U+20001 is in HanaMin B but not in Noto Serif CJK TC.
    graduate = dataclasses.replace(samples.by_name("王大堃"), name_zh="王\U00020001明")
    path = write(
        tmp_path,
        renderer.render(content(samples, "diploma_zh", graduate), print_locked=False),
    )
    assert "王\U00020001明" in text_of(path)
    names = [name for name, _, _ in fonts_of(path)]
    assert any(name.endswith("+HanaMinB") for name in names), names
    assert_sound(path)


# 90 and 120 characters: passport spellings, with spaces and without.
NAME_90 = (
    "MONTGOMERY-FITZWILLIAM DE LA CRUZ SANTISTEBAN, ALEXANDRA-KATHARINA MAXIMILIANA VICTORIA LI"
)
NAME_120 = "A" + "BCDEFGHIJKLMNOPQRSTUVWXYZ" * 4 + "ABCDEFGHIJKLMNOPQRS"


def test_sample_names_are_the_lengths_the_layout_tests_need() -> None:
    assert len(NAME_90) == 90
    assert len(NAME_120) == 120


@pytest.mark.parametrize("code", ["diploma_en", "degree_certificate_en", "transcript"])
def test_a_long_english_name_wraps_inside_the_page(
    samples: Samples, renderer: Renderer, tmp_path: Path, code: str
) -> None:
    graduate = samples.by_name("王大堃").with_name_en(NAME_90)
    path = write(tmp_path, renderer.render(content(samples, code, graduate), print_locked=False))
    words = words_of(path)
    name_words = [w for w in words if w.page == 1 and w.text in NAME_90.split()]
    assert {w.text for w in name_words} == set(NAME_90.split())
    assert len({round(w.y0) for w in name_words}) >= 2, "the name was not wrapped"
    assert_sound(path)


@pytest.mark.parametrize("code", ["diploma_en", "degree_certificate_en", "rank_certificate"])
def test_a_name_without_spaces_is_broken_inside_the_page(
    samples: Samples, renderer: Renderer, tmp_path: Path, code: str
) -> None:
    graduate = samples.by_name("王大堃").with_name_en(NAME_120)
    path = write(tmp_path, renderer.render(content(samples, code, graduate), print_locked=False))
    assert NAME_120 in "".join(text_of(path).split())
    assert_sound(path)


def test_a_long_chinese_name_and_department_fit(
    samples: Samples, renderer: Renderer, tmp_path: Path
) -> None:
    graduate = dataclasses.replace(
        samples.by_name("王大堃"),
        name_zh="阿布杜拉．穆罕默德．伊本．哈利德．阿爾．薩烏德．法蒂瑪．努爾",  # 30 characters
        department_zh="電機工程學系電子工程與積體電路設計暨系統晶片組",
        program="碩士在職專班",
    )
    assert len(graduate.name_zh) == 30
    for code in ("diploma_zh", "rank_certificate"):
        doc = content(samples, code, graduate)
        assert_sound(write(tmp_path, renderer.render(doc, print_locked=False), f"{code}.pdf"))


def test_missing_font_file_names_its_debian_package(tmp_path: Path) -> None:
    face = FontFace(tmp_path / "NotoSerifCJK-Regular.ttc", 3, "fonts-noto-cjk")
    fonts = dataclasses.replace(default_font_set(), regular=face)
    with pytest.raises(ConfigurationError, match="fonts-noto-cjk") as raised:
        Renderer(fonts)
    assert "fonts-noto-cjk" in raised.value.zh


def test_uncovered_lists_each_missing_character_once() -> None:
    fonts = default_font_set()
    assert uncovered("王大堃喆\U00021619 Zoë", fonts) == []
    assert uncovered("a\ue000b\ue000\U0002ebf0", fonts) == ["\ue000", "\U0002ebf0"]
    only_hanamin = FontSet(fonts.fallbacks[1], fonts.fallbacks[1])
    assert uncovered("中\U00020001", only_hanamin) == ["中"]
    assert describe("堃") == "U+5803 (堃)"
    assert describe("\n") == "U+000A"
