"""The built wheel is whole: installed into a fresh virtualenv outside the checkout, it publishes.

The checkout's own files must play no part: the wheel is built, installed without its
dependencies into a new virtualenv in a temporary folder, and run from there. The dependencies
come from this test run's environment through a plain path entry (which runs none of that
environment's ``.pth`` hooks, so the checkout's editable install stays out of the picture).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIP = (sys.executable, "-m", "pip")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding only the wheel; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the files git knows: setuptools leaves a build/ folder in the source
    # tree, and a stale one there could slip a deleted module into the wheel.
    source = work / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [*PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work), str(source)],
        check=True,
        cwd=work,
        capture_output=True,
    )
    (wheel,) = work.glob("certseal-*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    # A plain path line: the dependencies, without this environment's editable-install hook.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", "utf-8")
    subprocess.run(
        [*PIP, "install", "-q", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    return env_dir / "bin"


def _run(bindir: Path, *args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(bindir / "python"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_wheel_publishes_a_site_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CERTSEAL_HOME": str(tmp_path / "authority"),
        "CERTSEAL_PASSPHRASE": "wheel-test-passphrase",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    where = _run(
        installed,
        "-c",
        "import authority, certseal, certseal_site, cli, verifier.app;"
        "print(certseal_site.__file__); print(verifier.app.__file__)",
        cwd=tmp_path,
        env=env,
    )
    assert str(REPO) not in where, "the checkout, not the wheel, was imported"
    cli = ["-m", "cli"]
    _run(installed, *cli, "authority", "init", "--demo", cwd=tmp_path, env=env)
    samples = _run(
        installed,
        "-c",
        "from importlib import resources; print(resources.files('authority') / 'sample_data')",
        cwd=tmp_path,
        env=env,
    ).strip()
    _run(
        installed,
        *cli,
        "authority",
        "import",
        "graduates",
        f"{samples}/graduates.csv",
        cwd=tmp_path,
        env=env,
    )
    out = tmp_path / "published"
    _run(installed, *cli, "authority", "publish", "--out", str(out), cwd=tmp_path, env=env)
    for page in ("index.html", "check.html", "faq.html", "issuers.html", "en/index.html"):
        assert (out / page).is_file(), page
    assert (out / "assets" / "site.css").stat().st_size > 0
    assert (out / "status" / "timestamp.json").is_file()
    # The verifier's own pages and contract come from the wheel too.
    probe = (
        "from verifier.app import OPENAPI; import verifier, pathlib, json;"
        "t = pathlib.Path(verifier.__file__).parent / 'templates' / 'verify' / 'form.html';"
        "print(json.dumps([OPENAPI.is_file(), t.is_file()]))"
    )
    assert json.loads(_run(installed, "-c", probe, cwd=tmp_path, env=env)) == [True, True]
