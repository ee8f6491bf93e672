"""What goes on one document: the input of rendering, free of I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from authority.config import School
from authority.records import Course, Graduate, Rank
from certseal.doctypes import DocumentType
from certseal.errors import InputError


@dataclass(frozen=True)
class DocumentContent:
    """Everything a renderer needs for one document, already validated."""

    doc_type: DocumentType
    document_number: str  # e.g. DEMO-DZ-2026-000123, printed on the document
    issued_on: dt.date
    school: School
    graduate: Graduate
    courses: tuple[Course, ...] = ()
    rank: Rank | None = None
    version: int = 1  # 2 and up for a reissue (補發)

    def __post_init__(self) -> None:
        if self.doc_type.code == "transcript" and not self.courses:
            raise InputError(
                f"no transcript rows for student {self.graduate.student_id}",
                f"學號 {self.graduate.student_id} 沒有成績資料",
            )
        if self.doc_type.code == "rank_certificate":
            # The rule first: a master's graduate has no rank because none is ever issued.
            if self.graduate.level != "bachelor":
                raise InputError(
                    "rank certificates are issued to bachelor's graduates only",
                    "名次證明限學士班",
                )
            if self.rank is None:
                raise InputError(
                    f"no rank for student {self.graduate.student_id}",
                    f"學號 {self.graduate.student_id} 沒有名次資料",
                )
        if self.version < 1:
            raise InputError("version must be 1 or more", "版次須為 1 以上")

    @property
    def certificate_number(self) -> str:
        """證書字號 in the school's format, from the document number's year and serial.

        ``DEMO-DZ-2026-000123`` with ``({roc_year})示大字第{serial}號`` is
        ``(115)示大字第000123號``; empty when the school prints none.
        """
        fmt = self.school.certificate_number
        if not fmt:
            return ""
        parts = self.document_number.split("-")
        year = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else self.issued_on.year
        return fmt.format(roc_year=year - 1911, year=year, serial=parts[-1])
