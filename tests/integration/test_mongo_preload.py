"""``gunicorn --preload -w 2`` with a MongoDB client made in the master: every worker makes
its own (a pymongo client's sockets and monitor threads never cross a fork)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow


def test_preloaded_workers_never_use_the_masters_client(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))},
        "SOAJS_ENV": "dev",
        "TEST_MONGO_PORT": str(free_port()),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b",
             f"127.0.0.1:{port}", "--graceful-timeout", "3",
             "tests.integration.mongo_preload_app:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        answers: dict[int, dict[str, object]] = {}

        def both_answered() -> bool:
            try:
                with httpx.Client(timeout=2) as client:  # a connection per request
                    answer = client.get(f"http://127.0.0.1:{port}/").json()
            except httpx.HTTPError:
                return False
            answers[answer["pid"]] = answer
            return len(answers) >= 2

        assert wait_until(both_answered, timeout=60, step=0.05), stderr.read_text()[-2000:]
        for pid, answer in answers.items():
            assert pid != answer["master"]
            assert answer["parents"] is False
            assert answer["cached"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
