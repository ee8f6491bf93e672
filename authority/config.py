"""The authority's settings: who the school is, how its documents look and where they are verified.

What a registrar configures for the documents (``docs/authority.md``): the seal and emblem images
(PNG or SVG), the president's title and name, the format of the certificate number (證書字號) on
diplomas and degree certificates, and the transcript rules (what passes, how averages are taken,
whether the rank is printed).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib import resources
from pathlib import PurePath
from typing import Any

from certseal.errors import ConfigurationError

_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_LETTERS = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "E", "F", "X")
_AVERAGES = ("credit_weighted", "simple")
_NUMBER_FIELDS = frozenset({"roc_year", "year", "serial"})
_IMAGE_SUFFIXES = (".png", ".svg")


@dataclass(frozen=True)
class TranscriptRules:
    """How a transcript counts credits and takes averages; the school's academic regulations.

    Numeric grades pass from ``pass_bachelor`` (undergraduate) or ``pass_graduate`` (master's
    and doctoral) out of 100; letter grades from ``letter_pass_*``. 抵免 (waived), 通過 and P
    earn their credits; 停修 (withdrawn) does not. An average is over the numerically graded
    courses with credits (letter grades only when ``letter_scores`` gives them a score),
    weighted by credits or not, failed courses in or out; pass/fail, waived and withdrawn
    courses never count in it.
    """

    pass_bachelor: int = 60
    pass_graduate: int = 70
    letter_pass_bachelor: str = "C-"  # noqa: S105 - a grade, not a password
    letter_pass_graduate: str = "B-"  # noqa: S105 - a grade, not a password
    average: str = "credit_weighted"  # or "simple"
    average_includes_failed: bool = True
    letter_scores: dict[str, int] = field(default_factory=dict)
    decimals: int = 2
    print_rank: bool = False  # print the department (and class) rank on the transcript

    def __post_init__(self) -> None:
        for name in ("pass_bachelor", "pass_graduate"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise _rule_error(
                    name, "must be a whole number from 0 to 100", "須為 0 到 100 的整數"
                )
        for name in ("letter_pass_bachelor", "letter_pass_graduate"):
            if getattr(self, name) not in _LETTERS:
                raise _rule_error(
                    name,
                    f"must be one of {', '.join(_LETTERS)}",
                    f"須為 {', '.join(_LETTERS)} 之一",
                )
        if self.average not in _AVERAGES:
            raise _rule_error(
                "average",
                f"must be one of {', '.join(_AVERAGES)}",
                f"須為 {', '.join(_AVERAGES)} 之一",
            )
        if not isinstance(self.letter_scores, dict):
            raise _rule_error("letter_scores", "must be an object", "須為物件")
        for letter, score in self.letter_scores.items():
            if letter not in _LETTERS or not isinstance(score, int) or not 0 <= score <= 100:
                raise _rule_error(
                    "letter_scores",
                    f"maps a letter grade to a score from 0 to 100 ('{letter}': {score!r})",
                    f"須將等第對應到 0 到 100 的分數（「{letter}」: {score!r}）",
                )
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 3:
            raise _rule_error("decimals", "must be 0 to 3", "須為 0 到 3")
        for name in ("average_includes_failed", "print_rank"):
            if not isinstance(getattr(self, name), bool):
                raise _rule_error(name, "must be true or false", "須為 true 或 false")

    def letter_passes(self, letter: str, graduate_study: bool) -> bool:
        """Whether a letter grade is at or above the passing letter of the level."""
        if letter not in _LETTERS:
            return False
        bar = self.letter_pass_graduate if graduate_study else self.letter_pass_bachelor
        return _LETTERS.index(letter) <= _LETTERS.index(bar)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptRules:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _rule_error(unknown[0], "is not a transcript rule", "不是成績單規則")
        values: dict[str, Any] = {
            k: (dict(v) if k == "letter_scores" and isinstance(v, Mapping) else v)
            for k, v in data.items()
        }
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rule_error(name: str, en: str, zh: str) -> ConfigurationError:
    return ConfigurationError(f"transcript rule {name} {en}", f"成績單規則 {name} {zh}")


def _check_certificate_format(fmt: str) -> None:
    """A format such as ``({roc_year})示大字第{serial}號``: only the known fields, no others."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
        fmt.format(roc_year=115, year=2026, serial="000001")
    except (ValueError, IndexError, KeyError, AttributeError):
        names = {"?"}
    if names - _NUMBER_FIELDS or (fmt and "serial" not in names):
        raise ConfigurationError(
            f"certificate number format '{fmt}' may use {{roc_year}}, {{year}} and must use "
            "{serial}, nothing else in braces",
            f"證書字號格式「{fmt}」只能使用 {{roc_year}}、{{year}}，且須包含 {{serial}}",
        )


def _check_image(name: str, path: str) -> None:
    if path and (
        not PurePath(path).is_absolute() or PurePath(path).suffix.lower() not in _IMAGE_SUFFIXES
    ):
        raise ConfigurationError(
            f"school {name} must be the absolute path of a PNG or SVG file ('{path}')",
            f"學校設定 {name} 須為 PNG 或 SVG 檔的絕對路徑（「{path}」）",
        )


@dataclass(frozen=True)
class School:
    """The issuer as printed on its documents and named in its status list."""

    code: str  # short, upper-case, used in document numbers: e.g. "DEMO"
    name_zh: str
    name_en: str
    president_zh: str
    president_en: str
    registrar_zh: str
    registrar_en: str
    verify_url: str  # the public verification site printed on every document
    president_title_zh: str = "校長"
    president_title_en: str = "President"
    # Who signs certificates (degree certificates, rank certificates, transcripts) for the
    # school; none: the president.
    certifier_zh: str = ""
    certifier_en: str = ""
    certifier_title_zh: str = "教務長"
    certifier_title_en: str = "Dean of Academic Affairs"
    seal_image: str = ""  # PNG or SVG, absolute path; none: a red box marks the seal's place
    emblem_image: str = ""  # PNG or SVG, absolute path, printed above the school's name
    certificate_number: str = ""  # e.g. "({roc_year})示大字第{serial}號"; none: not printed
    transcript: TranscriptRules = field(default_factory=TranscriptRules)

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ConfigurationError(
                f"school code '{self.code}' must be 2 to 10 upper-case letters or digits",
                f"學校代碼「{self.code}」須為 2 到 10 個大寫英數字",
            )
        for name in (
            "name_zh",
            "name_en",
            "president_zh",
            "president_en",
            "president_title_zh",
            "president_title_en",
            "certifier_title_zh",
            "certifier_title_en",
        ):
            if not str(getattr(self, name)).strip():
                raise ConfigurationError(f"school {name} is empty", f"學校設定 {name} 不可空白")
        if not self.verify_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                "the verification site address must start with https:// or http://",
                "驗證網站網址須以 https:// 或 http:// 開頭",
            )
        if bool(self.certifier_zh.strip()) != bool(self.certifier_en.strip()):
            raise ConfigurationError(
                "school certifier_zh and certifier_en go together",
                "學校設定 certifier_zh 與 certifier_en 須一併填寫",
            )
        _check_image("seal_image", self.seal_image)
        _check_image("emblem_image", self.emblem_image)
        _check_certificate_format(self.certificate_number)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> School:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise ConfigurationError(
                        f"school settings lack '{f.name}'", f"學校設定缺少「{f.name}」"
                    )
                continue
            if f.name == "transcript":
                if not isinstance(data[f.name], Mapping):
                    raise ConfigurationError(
                        "school transcript rules must be an object", "學校設定 transcript 須為物件"
                    )
                values[f.name] = TranscriptRules.from_dict(data[f.name])
            else:
                values[f.name] = str(data[f.name])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def signer(self) -> tuple[str, str, str, str]:
        """(name_zh, name_en, title_zh, title_en) of whoever signs certificates."""
        if self.certifier_zh.strip():
            return (
                self.certifier_zh,
                self.certifier_en,
                self.certifier_title_zh,
                self.certifier_title_en,
            )
        return (
            self.president_zh,
            self.president_en,
            self.president_title_zh,
            self.president_title_en,
        )


def _sample(name: str) -> str:
    """A generated sample image shipped with the demo: no real school's marks."""
    return str(resources.files("authority").joinpath("sample_data", name))


DEMO_SCHOOL = School(
    code="DEMO",
    name_zh="國立示範大學",
    name_en="National Demonstration University",
    president_zh="林明德",
    president_en="Ming-Te Lin",
    registrar_zh="教務處註冊組",
    registrar_en="Office of Academic Affairs, Registration Division",
    verify_url="http://127.0.0.1:8080/",
    certifier_zh="陳怡君",
    certifier_en="Yi-Chun Chen",
    seal_image=_sample("seal.svg"),
    emblem_image=_sample("emblem.png"),
    certificate_number="({roc_year})示大字第{serial}號",
)
