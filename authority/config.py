"""The authority's settings: who the school is and where its documents are verified."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from certseal.errors import ConfigurationError

_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


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

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ConfigurationError(
                f"school code '{self.code}' must be 2 to 10 upper-case letters or digits",
                f"學校代碼「{self.code}」須為 2 到 10 個大寫英數字",
            )
        for name in ("name_zh", "name_en", "president_zh", "president_en"):
            if not str(getattr(self, name)).strip():
                raise ConfigurationError(f"school {name} is empty", f"學校設定 {name} 不可空白")
        if not self.verify_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                "the verification site address must start with https:// or http://",
                "驗證網站網址須以 https:// 或 http:// 開頭",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> School:
        try:
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})
        except KeyError as e:
            raise ConfigurationError(
                f"school settings lack '{e.args[0]}'", f"學校設定缺少「{e.args[0]}」"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEMO_SCHOOL = School(
    code="DEMO",
    name_zh="國立示範大學",
    name_en="National Demonstration University",
    president_zh="林明德",
    president_en="Ming-Te Lin",
    registrar_zh="教務處註冊組",
    registrar_en="Office of Academic Affairs, Registration Division",
    verify_url="http://127.0.0.1:8080/",
)
