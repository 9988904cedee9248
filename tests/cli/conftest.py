"""Run the installed ``soajs`` script (the real entry point) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).parent / "soajs"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def soajs(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
    full_env = dict(os.environ)
    full_env.update(env or {})
    done = subprocess.run(
        [str(SCRIPT), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        check=False,
    )
    # whatever happened: never a traceback, at most one error line
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("soajs: error")]
    assert len(errors) <= 1, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session", autouse=True)
def _script_installed() -> None:
    assert SCRIPT.exists(), f"the soajs entry point is not installed at {SCRIPT}"
