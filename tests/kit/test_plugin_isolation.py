"""The plugin as a user's project sees it: loaded by its entry point in a fresh pytest run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LEAK = """
import pytest
from soajs.connector import BreakerPolicy, breakers

def test_a_leaves_an_open_breaker():
    breakers.get("10.0.0.1:80", BreakerPolicy()).record_failure("boom")
    assert "10.0.0.1:80" in breakers

{mark}
def test_b_sees_it_or_not():
    assert ("10.0.0.1:80" in breakers) is {expected}
"""


def run(tmp_path: Path, body: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(body)
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_breakers_leak_between_tests_without_isolation(tmp_path: Path) -> None:
    done = run(tmp_path, LEAK.format(mark="", expected=True))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_marker_isolates_one_test(tmp_path: Path) -> None:
    done = run(tmp_path, LEAK.format(mark="@pytest.mark.soajs_isolated", expected=False))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_ini_option_isolates_every_test(tmp_path: Path) -> None:
    done = run(tmp_path, LEAK.format(mark="", expected=False), ini="soajs_isolation = true\n")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugin_can_be_turned_off(tmp_path: Path) -> None:
    body = "def test_x(soajs_registry):\n    pass\n"
    assert run(tmp_path, body).returncode == 0
    (tmp_path / "test_user.py").write_text(body)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:soajs", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "fixture 'soajs_registry' not found" in done.stdout
