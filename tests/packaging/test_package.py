"""The install the README gives works: build the wheel and sdist, install the wheel with an
extra into a fresh venv, import it, find py.typed, run ``soajs --version``, see the plugin."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import soajs

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_and_sdist_build_and_the_wheel_installs_with_an_extra(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    wheel = next(dist.glob("soajs_python-*.whl"))
    sdist = next(dist.glob("soajs_python-*.tar.gz"))

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "soajs/py.typed" in names
        assert "soajs/testing/plugin.py" in names
        points = zf.read(entry_points).decode()
    assert "soajs = soajs.cli:main" in points
    assert "soajs = soajs.testing.plugin" in points  # [pytest11]
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "src/soajs/py.typed", "README.md"} <= members

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # the running interpreter's pip installs into the fresh venv (PyPI for the deps)
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", f"{wheel}[fastapi]")
    assert run(venv / "bin" / "soajs", "--version").strip() == f"soajs {soajs.__version__}"
    where = run(
        python,
        "-c",
        "import pathlib, soajs, soajs.testing, fastapi;"
        "from importlib.metadata import entry_points;"
        "assert [e.value for e in entry_points(group='pytest11') if e.name == 'soajs']"
        " == ['soajs.testing.plugin'];"
        "print(pathlib.Path(soajs.__file__).parent)",
        cwd=tmp_path,  # not the checkout: the installed copy must be found
    ).strip()
    package = Path(where)
    assert package.is_relative_to(venv), where
    assert (package / "py.typed").is_file()
