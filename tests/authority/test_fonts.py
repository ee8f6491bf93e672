"""Font files the subsetters cannot read are a ConfigurationError naming the face, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from authority.fonts import FontFace, _dict_entries
from certseal.errors import ConfigurationError

FACE = FontFace(Path("/fonts/Broken.ttc"), 3)


def test_a_cff_dict_splits_into_operators_and_their_operands() -> None:
    # 100 (one byte, 239) then operator 18 (Private); 1000 (two bytes) then escape op 12 30.
    data = bytes([239, 18, 250, 124, 12, 30])
    assert _dict_entries(data, FACE) == [((18,), bytes([239])), ((12, 30), bytes([250, 124]))]


def test_a_reserved_byte_in_a_cff_dict_names_the_font() -> None:
    with pytest.raises(ConfigurationError, match=r"Broken\.ttc#3.*reserved byte 255") as raised:
        _dict_entries(bytes([239, 255, 18]), FACE)
    assert "Broken.ttc#3" in raised.value.zh
