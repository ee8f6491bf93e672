"""CSV import: a bad row is reported with its line and field; good rows still import."""

from __future__ import annotations

import pytest

from authority.records import parse_csv
from certseal.errors import InputError
from tests.conftest import sample_bytes

HEADER = (
    "student_id,name_zh,name_en,birth_date,level,degree_zh,degree_en,college_zh,college_en,"
    "department_zh,department_en,program,graduation_term,graduation_date,school_email,"
    "permanent_email\n"
)
GOOD = (
    "A11012345,王小明,Hsiao-Ming Wang,2003-04-05,bachelor,學士,Bachelor of Science,理學院,"
    "College of Science,數學系,Department of Mathematics,,114-2,2026-06-20,"
    "A11012345@demo.edu.tw,ming@example.com\n"
)


@pytest.mark.parametrize("kind", ["graduates", "courses", "ranks"])
def test_samples_import_cleanly(kind: str) -> None:
    report = parse_csv(kind, sample_bytes(f"{kind}.csv"))
    assert report.accepted
    assert not report.rejected


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (GOOD.replace("A11012345,王", "A1,王"), "student_id", "4 to 20"),
        (GOOD.replace("Hsiao-Ming Wang", "王小明"), "name_en", "passport spelling"),
        (GOOD.replace("2003-04-05", "2003-13-05"), "birth_date", "not a date"),
        (GOOD.replace("bachelor", "associate"), "level", "must be one of"),
        (GOOD.replace("114-2", "2026"), "graduation_term", "113-2"),
        (GOOD.replace("ming@example.com", "ming@"), "permanent_email", "not an e-mail"),
        (GOOD.replace(",王小明,", ",,"), "name_zh", "empty"),
    ],
)
def test_bad_row_names_line_and_field(row: str, field: str, message: str) -> None:
    report = parse_csv(
        "graduates", (HEADER + GOOD.replace("A11012345", "B11012345") + row).encode()
    )
    assert len(report.accepted) == 1
    assert len(report.rejected) == 1
    err = report.rejected[0]
    assert (err.line, err.field) == (3, field)
    assert message in err.message("en")
    assert "第 3 行" in err.message("zh-TW")


def test_missing_column_is_refused() -> None:
    with pytest.raises(InputError, match="no column permanent_email"):
        parse_csv("graduates", HEADER.replace(",permanent_email", "").encode())


def test_not_utf8_is_refused() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        parse_csv("graduates", (HEADER + GOOD).encode("big5"))


def test_ranks_must_fit_the_cohort() -> None:
    report = parse_csv("ranks", b"student_id,department_rank,department_size\nA1234567,9,5\n")
    assert report.rejected[0].field == "department_rank"
