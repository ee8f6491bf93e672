"""fpdf2's internals are touched in one module only, and only with the fpdf2 it was written for.

When fpdf2 is upgraded these fail first, naming what to re-read in ``authority/render/_fpdf.py``.
"""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest
from fpdf import FPDF
from fpdf.encryption import StandardSecurityHandler
from fpdf.fonts import TTFFont
from fpdf.output import OutputProducer

from authority.render import _fpdf
from authority.render._fpdf import WRITTEN_FOR

AUTHORITY = Path(__file__).resolve().parents[2] / "authority"
QUARANTINE = AUTHORITY / "render" / "_fpdf.py"


def test_installed_fpdf2_is_the_version_the_internals_were_written_for() -> None:
    installed = importlib.metadata.version("fpdf2")
    assert installed == WRITTEN_FOR, (
        f"fpdf2 {installed} is installed, but authority/render/_fpdf.py was written against "
        f"fpdf2 {WRITTEN_FOR} and uses its private internals: read it against the new release "
        "(font objects, OutputProducer._add_fonts, the security handler), run "
        "tests/authority/test_render.py, then set WRITTEN_FOR"
    )


# What _fpdf.py relies on, so that a failure says which piece moved.
CLASS_INTERNALS = [
    (FPDF, "_set_min_pdf_version"),
    (FPDF, "_raster_image"),
    (OutputProducer, "_add_fonts"),
    (OutputProducer, "_add_catalog"),
    (OutputProducer, "_add_pdf_obj"),
    (StandardSecurityHandler, "generate_passwords"),
]
INSTANCE_INTERNALS = ["_fallback_font_ids", "_security_handler", "_resource_catalog", "pages"]
FONT_SLOTS = [
    "i",
    "cw",
    "desc",
    "subset",
    "ttfont",
    "cmap",
    "missing_glyphs",
    "biggest_size_pt",
    "is_cff",
    "is_cid_keyed",
    "cff_ros",
    "name",
]


@pytest.mark.parametrize(("owner", "name"), CLASS_INTERNALS)
def test_class_internals_are_there(owner: type, name: str) -> None:
    assert callable(getattr(owner, name, None)), f"{owner.__name__}.{name} is gone"


@pytest.mark.parametrize("name", INSTANCE_INTERNALS)
def test_document_internals_are_there(name: str) -> None:
    assert hasattr(FPDF(), name), f"FPDF().{name} is gone"


def test_font_objects_keep_their_slots() -> None:
    """Shared fonts are cloned slot by slot; a new slot must be thought about, a lost one fails."""
    assert set(FONT_SLOTS) <= set(TTFFont.__slots__)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_quarantine_module_imports_fpdf2() -> None:
    importers = sorted(
        str(path.relative_to(AUTHORITY))
        for path in AUTHORITY.rglob("*.py")
        if any(name.split(".")[0] == "fpdf" for name in _imports(path))
    )
    assert importers == [str(QUARANTINE.relative_to(AUTHORITY))]


def _foreign_private_attributes(path: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()``: someone else's private."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_renderer_reaches_into_no_one_elses_private_attributes_outside_the_quarantine() -> None:
    found = [
        hit
        for path in sorted((AUTHORITY / "render").rglob("*.py"))
        if path != QUARANTINE
        for hit in _foreign_private_attributes(path)
    ]
    assert found == []


def test_the_check_sees_a_foreign_private_attribute(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("doc._security_handler = 1\nself._own = 2\nsuper()._add_fonts()\n", "utf-8")
    assert _foreign_private_attributes(probe) == ["probe.py:1 doc._security_handler"]


def test_the_quarantine_module_is_the_one_checked() -> None:
    assert Path(_fpdf.__file__) == QUARANTINE
