"""soajs.workers: the listener is handed to the children of a process that never served.

Real fork()s: a process that has not served a request hands its listener to the
child it forks, and takes it back when it serves; a process that has served
keeps its listener, and its child gets none (and closes its copy of the socket).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import httpx
import pytest

from soajs import workers
from soajs.middleware import HealthEndpoints, MaintenanceListener
from tests.support import free_port, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _holder_pid(port: int) -> int | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/heartbeat", timeout=2)
    except httpx.HTTPError:
        return None
    return int(answer.headers["x-soajs-listener"].split("pid=")[1].split(";")[0])


def _run_in_child(body: Any) -> dict[str, Any]:
    """Run ``body()`` in a forked child; its JSON-able result comes back through a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.write(write_fd, json.dumps(body()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        facts: dict[str, Any] = json.loads(pipe.read() or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, facts
    return facts


def test_a_serving_process_keeps_its_listener_and_its_child_gets_none() -> None:
    workers.mark_serving()
    listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
    assert listener.start()
    port = listener.port
    assert port is not None
    try:

        def child() -> dict[str, Any]:
            return {
                "serving": listener.is_serving,
                "threads": [t.name for t in threading.enumerate() if t.name.startswith("soajs-m")],
                "socket_kept": listener._sock is not None,
            }

        facts = _run_in_child(child)
        assert facts == {"serving": False, "threads": [], "socket_kept": False}
        assert listener.is_serving
        assert _holder_pid(port) == os.getpid()
    finally:
        listener.stop()


def test_a_process_that_never_served_hands_its_listener_to_its_child() -> None:
    """Like a --preload master: runs in a fresh child, which has served nothing."""

    def master() -> dict[str, Any]:
        assert not workers.serving()
        listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
        assert listener.start()
        port = listener.port
        assert port is not None
        before = _holder_pid(port)
        read_fd, write_fd = os.pipe()
        worker = os.fork()
        if worker == 0:  # the worker: serves the listener until told to stop
            try:
                os.close(write_fd)
                os.read(read_fd, 1)
            finally:
                os._exit(0)
        os.close(read_fd)
        handed = not listener.is_serving and workers.handed_off()
        held_by_worker = wait_until(lambda: _holder_pid(port) == worker, timeout=5)
        os.close(write_fd)  # the worker ends
        os.waitpid(worker, 0)
        time.sleep(0.1)
        workers.mark_serving()  # the master serves a request after all: takes it back
        taken_back = wait_until(lambda: _holder_pid(port) == os.getpid(), timeout=10)
        listener.stop()
        return {
            "before": before == os.getpid(),
            "handed": handed,
            "held_by_worker": held_by_worker,
            "taken_back": taken_back,
        }

    facts = _run_in_child(master)
    assert facts == {"before": True, "handed": True, "held_by_worker": True, "taken_back": True}


def _helper() -> None:
    time.sleep(0.5)


def test_a_multiprocessing_helper_takes_nothing_from_a_process_that_never_served() -> None:
    """An app that starts a multiprocessing pool at import keeps its listener."""

    def app() -> dict[str, Any]:
        import multiprocessing

        listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
        assert listener.start()
        port = listener.port
        assert port is not None
        helper = multiprocessing.get_context("fork").Process(target=_helper)
        helper.start()
        kept = listener.is_serving and not workers.handed_off()
        answered_by_app = _holder_pid(port) == os.getpid()
        helper.join(10)
        listener.stop()
        return {"kept": kept, "answered_by_app": answered_by_app}

    assert _run_in_child(app) == {"kept": True, "answered_by_app": True}


def test_a_fork_per_request_server_keeps_the_listener_in_its_parent() -> None:
    """werkzeug ``processes=2`` forks a child per request (socketserver): a helper."""

    def app() -> dict[str, Any]:
        from werkzeug.serving import make_server

        listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
        assert listener.start()
        port = listener.port
        assert port is not None

        def hello(environ: Any, start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hi"]

        server = make_server("127.0.0.1", 0, hello, processes=2)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        answered = httpx.get(f"http://127.0.0.1:{server.server_port}/", timeout=5).text
        time.sleep(0.2)
        kept = listener.is_serving and _holder_pid(port) == os.getpid()
        server.shutdown()
        server.server_close()
        listener.stop()
        return {"answered": answered, "kept": kept}

    assert _run_in_child(app) == {"answered": "hi", "kept": True}
