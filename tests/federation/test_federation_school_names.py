"""``certseal authority init`` takes real school names, which X.509 cannot hold in one field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.x509.oid import NameOID

from authority.config import School
from authority.keys import DESCRIPTION, create_pki, load_identity
from certseal.errors import ConfigurationError
from cli import main
from tests.conftest import NOW, PASSPHRASE

NKUST = {
    "code": "NKUST",
    "name_zh": "國立高雄科技大學",
    "name_en": "National Kaohsiung University of Science and Technology",
    "president_zh": "楊慶煜",
    "president_en": "Ching-Yuh Yang",
    "registrar_zh": "教務處註冊組",
    "registrar_en": "Office of Academic Affairs, Registration Division",
    "verify_url": "http://127.0.0.1:8080/",
}


def test_a_72_character_subject_no_longer_crashes_init(tmp_path: Path) -> None:
    """The English name plus " Document Signing" is 72 characters, over X.509's 64."""
    assert len(NKUST["name_en"] + " Document Signing") == 72
    school_file = tmp_path / "nkust.json"
    school_file.write_text(json.dumps(NKUST, ensure_ascii=False), "utf-8")
    home = tmp_path / "home"
    runner = CliRunner(env={"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    result = runner.invoke(main, ["authority", "init", "--school", str(school_file)])
    assert result.exit_code == 0, result.output
    assert "National Kaohsiung University of Science and Technology" in result.output
    ident = load_identity(home / "keys", "signing", PASSPHRASE)
    subject = ident.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "NKUST Document Signing"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == NKUST["name_en"]


def test_a_name_over_64_characters_is_kept_whole(tmp_path: Path) -> None:
    """An English name longer than an organization field goes whole into ``description``."""
    long_en = "National Taipei University of Nursing and Health Sciences, Continuing Study"
    assert len(long_en) > 64
    school = School.from_dict({**NKUST, "code": "NTUNHS", "name_en": long_en})
    certs = create_pki(tmp_path / "keys", school, PASSPHRASE, NOW)
    for cert in certs.values():
        name = cert.subject
        assert name.get_attributes_for_oid(DESCRIPTION)[0].value == long_en
        assert name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == NKUST["name_zh"]
        assert all(len(str(a.value)) <= 64 for a in name if a.oid != DESCRIPTION)


def test_names_no_certificate_can_hold_leave_nothing_behind(tmp_path: Path) -> None:
    """A refusal comes before the first file: no empty or partial ``keys/`` folder."""
    school = School.from_dict({**NKUST, "name_en": "N" * 70, "name_zh": "國" * 70})
    with pytest.raises(ConfigurationError, match="longer than 64 characters") as e:
        create_pki(tmp_path / "keys", school, PASSPHRASE, NOW)
    assert "請縮短中文名稱" in e.value.zh
    assert list(tmp_path.iterdir()) == []
