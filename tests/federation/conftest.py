"""A federation of three real authorities (real keys) and an operator with three root keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authority.config import School
from authority.keys import load_identity
from authority.onboarding import prepare_request
from authority.service import init_authority
from federation.operator import Operator, init_operator
from tests.conftest import NOW, PASSPHRASE

T0 = NOW - dt.timedelta(days=20)
"""When the federation starts: the schools' keys are 30 days old by then."""

SCHOOLS = {
    "NKUST": ("國立高雄科技大學", "National Kaohsiung University of Science and Technology"),
    "NTHU": ("國立清華大學", "National Tsing Hua University"),
    "NTCU": ("國立臺中教育大學", "National Taichung University of Education"),
}


def school(code: str) -> School:
    zh, en = SCHOOLS[code]
    return School(
        code=code,
        name_zh=zh,
        name_en=en,
        president_zh="校長",
        president_en="President",
        registrar_zh="註冊組",
        registrar_en="Registration Division",
        verify_url=f"https://verify.{code.lower()}.edu.tw/",
    )


def request_for(home: Path, code: str, now: dt.datetime, version: int | None = 1) -> bytes:
    base = f"https://verify.{code.lower()}.edu.tw"
    return prepare_request(
        home / "keys",
        PASSPHRASE,
        school(code),
        domains=[f"{code.lower()}.edu.tw"],
        status_list_url=f"{base}/status/",
        log_url=f"{base}/log/",
        now=now,
        role_version=version,
    ).data


@dataclass
class Federation:
    """The operator's home, its unlocked keys, and the schools' authority homes."""

    home: Path
    roots: list[ec.EllipticCurvePrivateKey]
    online: ec.EllipticCurvePrivateKey
    schools: dict[str, Path]

    def operator(self) -> Operator:
        return Operator(self.home)

    def status_key(self, code: str) -> ec.EllipticCurvePrivateKey:
        key = load_identity(self.schools[code] / "keys", "statuslist", PASSPHRASE).key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def make_federation(base: Path, admitted: tuple[str, ...] = tuple(SCHOOLS)) -> Federation:
    homes = {}
    for code in SCHOOLS:
        homes[code] = base / code
        init_authority(homes[code], school(code), PASSPHRASE, T0 - dt.timedelta(days=10))
    home = base / "operator"
    names = init_operator(home, "trust.moe.example.tw/trust/log", PASSPHRASE, T0)
    with Operator(home) as op:
        roots = op.signers(names, dict.fromkeys(names, PASSPHRASE))
        online = op.online_key(PASSPHRASE)
        for i, code in enumerate(admitted):
            at = T0 + dt.timedelta(hours=i + 1)
            op.accept_request(
                request_for(homes[code], code, at), now=at, signers=roots[:2], online=online
            )
    return Federation(home, roots, online, homes)


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    yield make_federation(tmp_path)
