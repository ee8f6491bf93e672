"""The layout keeps its promises (docs/architecture.md): no arrow runs back up.

Every import in every module is read with ``ast`` (function-level imports included), so a lazy
import cannot hide an arrow the picture forbids.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FOUNDATION = "certseal"
ACTORS = ("authority", "verifier", "auditor", "federation", "delivery")
CLI = "cli"
WEB = {"flask", "werkzeug", "jinja2.ext", "gunicorn"}
# The verifier's web layer: the only verifier modules that may import a web framework.
VERIFIER_WEB = {"verifier.app"}

# What each top-level package may import of ours; anything else is an arrow back up or across.
ALLOWED = {
    FOUNDATION: {FOUNDATION},
    "authority": {FOUNDATION, "authority"},
    "verifier": {FOUNDATION, "verifier"},
    "auditor": {FOUNDATION, "auditor"},
    "federation": {FOUNDATION, "federation"},
    # Delivery reads what the authority issued; the authority never calls it.
    "delivery": {FOUNDATION, "authority", "delivery"},
    CLI: {FOUNDATION, *ACTORS, CLI},
}
OURS = {FOUNDATION, *ACTORS, CLI, "certseal_site"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, package: str | None = None) -> Iterator[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` names, with its line."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    if package is None:
        package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                yield node.lineno, ".".join([*base, *(node.module or "").split(".")]).strip(".")
            elif node.module:
                yield node.lineno, node.module


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_arrow_runs_back_up(package: str) -> None:
    bad = []
    for path in _sources(package):
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert not bad, "imports the layout forbids:\n" + "\n".join(bad)


def test_nothing_outside_the_cli_imports_it() -> None:
    bad = []
    for top in (FOUNDATION, *ACTORS):
        for path in _sources(top):
            bad += [
                f"{path.relative_to(REPO)}:{line}"
                for line, name in _imports(path)
                if name.split(".")[0] == CLI
            ]
    assert not bad


@pytest.mark.parametrize("package", [FOUNDATION, "authority", "auditor", "verifier", "delivery"])
def test_libraries_need_no_web_framework(package: str) -> None:
    """Only the verifier's web layer imports Flask: the engine runs offline too."""
    bad = []
    for path in _sources(package):
        if _module_name(path) in VERIFIER_WEB:
            continue
        bad += [
            f"{path.relative_to(REPO)}:{line} imports {name}"
            for line, name in _imports(path)
            if name in WEB or name.split(".")[0] in {"flask", "werkzeug", "gunicorn"}
        ]
    assert not bad, "\n".join(bad)


def test_the_walk_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: imports inside functions and relative imports are all found."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\ndef f():\n    import cli.x\n    from flask import Flask\n"
        "from .engine import Verifier\nfrom .. import authority\n",
        "utf-8",
    )
    names = sorted(name for _, name in _imports(probe, package="verifier.sub"))
    assert names == ["cli.x", "flask", "os", "verifier", "verifier.sub.engine"]


def test_every_package_folder_is_shipped() -> None:
    """pyproject lists packages one by one: an unlisted sub-package would be left out."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {v: k for k, v in config.get("package-dir", {}).items()}
    on_disk = set()
    for top in sorted(OURS):
        folder = mapped.get(top, top) if top != "certseal_site" else "site"
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            on_disk.add(".".join([top, *rel]))
    assert on_disk == listed
