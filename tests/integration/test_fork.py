"""gunicorn/uwsgi --preload: a forked worker runs its own poller."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from tests.support import wait_until, write_json

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(manager: RegistryManager, parent_poller: threading.Thread | None) -> dict[str, Any]:
    """What a forked worker sees (runs in the child, returns JSON-able facts)."""
    facts: dict[str, Any] = {
        "kept_snapshot": manager.get_database("main").name,
        "own_poller": manager.is_running and manager._thread is not parent_poller,
        "poller_threads": sum(t.name.startswith("soajs-registry-") for t in threading.enumerate()),
    }
    before = manager.registry
    # the child's own poller reloads through its own connection pool
    facts["child_reloaded"] = wait_until(lambda: manager.registry is not before, timeout=10)
    facts["greeting"] = manager.get_custom("greeting").value["text"]
    manager.stop()
    facts["stopped"] = not manager.is_running
    return facts


def test_forked_child_runs_its_own_poller_and_the_parent_keeps_going(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Callable[..., RegistryManager],
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address)
    parent_thread = manager._thread
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        code = 1
        try:
            facts = _in_child(manager, parent_thread)
            os.write(write_fd, json.dumps(facts).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    # while the child runs, change the registry: both processes must see it
    registry_data["custom"]["greeting"]["value"]["text"] = "after fork"
    write_json(registry_file, registry_data)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        facts = json.loads(pipe.read() or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, facts
    assert facts == {
        "kept_snapshot": "main",
        "own_poller": True,
        "poller_threads": 1,
        "child_reloaded": True,
        "greeting": "after fork",
        "stopped": True,
    }
    # the parent's poller was neither stopped nor replaced by the child's stop()
    assert manager._thread is parent_thread and manager.is_running
    assert wait_until(
        lambda: manager.get_custom("greeting").value["text"] == "after fork", timeout=10
    )
