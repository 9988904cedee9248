"""The Testing page's examples are complete and pass: each framework's files, as printed in
docs/testing.md, are written to a fresh directory and run with pytest (the plugin loaded by
its entry point, as in a user's project)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
