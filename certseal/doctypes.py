"""The kinds of document the authority issues, and the rules that come with each.

Verification limits and print-locking follow NTNU's electronic documents (3 verifications,
printing locked), its Chinese-English degree certificate among them; diplomas follow NKUST/MOE's
digital diploma (no limit, issued after the paper diploma is collected). The codes appear in the
published status list, so they are stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from certseal.errors import InputError


@dataclass(frozen=True)
class DocumentType:
    code: str
    short: str  # two letters in document numbers
    name_zh: str
    name_en: str
    verification_limit: int | None  # None: unlimited
    print_locked: bool
    requires_paper_collected: bool  # digital diplomas follow the paper one
    bachelor_only: bool = False
    one_per_order: bool = False

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-TW" else self.name_en

    def in_sentence(self, *, article: bool = False) -> str:
        """The English name inside a sentence, for messages: "the paper Chinese diploma", "an
        English degree certificate". Language names keep their capital (a plain ``lower()``
        printed "chinese-english"); other words are lower-case."""
        name = self.name_en
        if not name.startswith(_LANGUAGE_NAMES):
            name = name[0].lower() + name[1:]
        if article:
            name = ("an " if name[0].lower() in "aeiou" else "a ") + name
        return name


# Adjectives of languages: capitalised in English wherever they stand.
_LANGUAGE_NAMES = ("Chinese", "English")


DOCUMENT_TYPES: dict[str, DocumentType] = {
    t.code: t
    for t in (
        DocumentType("diploma_zh", "DZ", "中文學位證書", "Chinese diploma", None, False, True),
        DocumentType("diploma_en", "DE", "英文學位證書", "English diploma", None, False, True),
        DocumentType(
            "transcript", "TR", "中英文成績單", "Chinese-English transcript", 3, True, False
        ),
        DocumentType(
            "rank_certificate",
            "RK",
            "學士班名次證明",
            "Bachelor's rank certificate",
            3,
            True,
            False,
            bachelor_only=True,
            one_per_order=True,
        ),
        DocumentType(
            "degree_certificate_en",
            "DC",
            "英文學位證明書",
            "English degree certificate",
            3,
            True,
            False,
        ),
        # NTNU's 中英文(並列)學位證明書: both languages side by side on one page.
        DocumentType(
            "degree_certificate_zh_en",
            "DP",
            "中英文並列學位證明書",
            "Chinese-English degree certificate",
            3,
            True,
            False,
        ),
    )
}

DIPLOMA_TYPES = ("diploma_zh", "diploma_en")


def document_type(code: str) -> DocumentType:
    try:
        return DOCUMENT_TYPES[code]
    except KeyError:
        known = ", ".join(DOCUMENT_TYPES)
        raise InputError(
            f"unknown document type '{code}' (known: {known})",
            f"未知的文件類型「{code}」（可用：{known}）",
        ) from None
