"""The Testing page's examples are complete and pass: each framework's files, as printed in
docs/testing.md, are written to a fresh directory and run with pytest (the plugin loaded by
its entry point, as in a user's project)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGE = (ROOT / "docs" / "testing.md").read_text()
BLOCK = re.compile(r"```python\n# (\S+)[^\n]*\n(.*?)```", re.S)


def section(title: str) -> dict[str, str]:
    body = PAGE.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return {name: code for name, code in BLOCK.findall(body)}


@pytest.mark.parametrize("framework", ["FastAPI", "Flask", "Django"])
def test_the_documented_example_passes(framework: str, tmp_path: Path) -> None:
    files = section(framework)
    assert any(name.startswith("test_") for name in files), files.keys()
    for name, code in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != tmp_path:
            (path.parent / "__init__.py").touch()
        path.write_text(code)
    # a fresh project: nothing from this run's environment (Django settings, SOAJS_*)
    env = {k: v for k, v in os.environ.items()
           if k != "DJANGO_SETTINGS_MODULE" and not k.startswith("SOAJS_")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


FRAMEWORKS = ("FastAPI", "Flask", "Django")
ANY_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def standalone_blocks() -> list[tuple[str, str]]:
    """Every python block outside the framework sections: (section title, code)."""
    blocks = []
    for part in PAGE.split("\n## ")[1:]:
        title = part.split("\n", 1)[0].strip()
        if title in FRAMEWORKS:
            continue
        blocks += [(title, code) for code in ANY_BLOCK.findall(part)]
    return blocks


@pytest.mark.parametrize(("title", "code"), standalone_blocks())
def test_every_other_block_runs_as_shown(title: str, code: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k != "DJANGO_SETTINGS_MODULE" and not k.startswith("SOAJS_")}  # fmt: skip
    if "def test_" in code:  # a test: run by pytest, with the plugin's fixtures
        (tmp_path / "test_block.py").write_text(code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    else:
        (tmp_path / "block.py").write_text(code)
        command = [sys.executable, "block.py"]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 0, (title, done.stdout[-3000:] + done.stderr[-2000:])


def test_every_documented_command_line_parses() -> None:
    """Every ``$ soajs ...`` line of docs/cli.md names options the command has."""
    import shlex

    from soajs.cli import build_parser

    page = (ROOT / "docs" / "cli.md").read_text()
    lines = re.findall(r"^\$ (?:\S+=\S+ )*soajs (.*?(?:\\\n.*?)*)$", page, re.M)
    assert len(lines) > 10
    for line in lines:
        line = line.replace("\\\n", " ").split("  #", 1)[0].split(";", 1)[0]
        line = re.sub(r"\[([^]]*)\]", r"\1", line)  # [--optional] in a synopsis
        args = shlex.split(line)
        with pytest.raises(SystemExit) if "--help" in args else nullcontext():
            build_parser().parse_args(args)
