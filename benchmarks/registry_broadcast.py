"""Measure whether one /reloadRegistry reaches every worker of gunicorn -w 2 (issue 11, finding 4).

The local control plane runs here (this tree, which counts its calls); the
gunicorn workers run ``tests/integration/reload_app.py`` with the soajs of
``--src`` (default: this tree), so the same script measures an older tree::

    .venv/bin/python benchmarks/registry_broadcast.py
    .venv/bin/python benchmarks/registry_broadcast.py --src /path/to/old/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.integration.test_reload_endpoint import _gunicorn_url  # noqa: E402
from tests.support import write_json  # noqa: E402

from soajs.controlplane import ControlPlaneServer  # noqa: E402


def greetings(url: str) -> dict[int, str]:
    seen: dict[int, str] = {}
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        for answer in pool.map(lambda _: client.get(url + "/state").json(), range(32)):
            seen[answer["pid"]] = answer["greeting"]
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", help="the soajs source tree the workers import")
    args = parser.parse_args()
    data = json.loads((ROOT / "examples" / "registry.json").read_text())
    data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 3_600_000  # no periodic poll
    work = Path(tempfile.mkdtemp())
    registry_file = work / "registry.json"
    write_json(registry_file, data)
    with ControlPlaneServer(registry_file) as plane:
        env = dict(os.environ, SOAJS_ENV="dev", SOAJS_REGISTRY_API=plane.address,
                   SOAJS_RUNTIME_DIR=str(work / "run"))  # fmt: skip
        if args.src:
            env["PYTHONPATH"] = args.src
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:0",
                   "tests.integration.reload_app:application"]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            url = _gunicorn_url(proc)
            time.sleep(1)
            print(f"booted: {plane.store.calls['/getRegistry']} getRegistry calls")
            data["custom"]["greeting"]["value"]["text"] = "reloaded"
            write_json(registry_file, data)
            answer = httpx.get(url + "/reloadRegistry", timeout=30)
            print("GET /reloadRegistry:", answer.status_code)
            time.sleep(3)
            print(f"3 s later: {plane.store.calls['/getRegistry']} getRegistry calls")
            print("greeting per worker pid:", greetings(url))
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
