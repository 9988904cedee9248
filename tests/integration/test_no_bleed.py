"""No bleed: concurrent requests of different tenants each see only their own context.

Real threads against a threaded werkzeug server + Flask, asyncio tasks against
uvicorn + FastAPI. Every handler waits at a barrier until all the others are in
flight too, so the requests really overlap, then reads its context every way a
user can. Meanwhile the RegistryManager reloads again and again from a real
local control plane, and each handler reads ``context.registry``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi import Request as ASGIRequest
from flask import Flask, g, request

from soajs import RegistryManager, current_context
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import get_soajs_context
from soajs.models import ContextData
from tests.integration.servers import uvicorn_server, werkzeug_server
from tests.support import write_json

WORKERS = 8  # concurrent requests, one per (tenant, user)
ROUNDS = 15
BARRIER_TIMEOUT = 20.0


def header(worker: int) -> bytes:
    """Two workers share each tenant, each with a user of its own."""
    return json.dumps(
        {"tenant": {"id": f"id-T{worker % 4}", "code": f"T{worker % 4}"},
         "urac": {"_id": f"u{worker}", "username": f"user{worker}"}}
    ).encode()  # fmt: skip


def expected(worker: int) -> dict[str, Any]:
    return {"tenant": f"T{worker % 4}", "user": f"user{worker}"}


def seen(ctx: ContextData | None) -> dict[str, Any] | None:
    if ctx is None:
        return None
    return {"tenant": ctx.tenant.code, "user": None if ctx.urac is None else ctx.urac.username}


def observe(
    at_entry: ContextData | None, ways: dict[str, ContextData | None], manager: RegistryManager
) -> dict[str, Any]:
    """What the handler saw after the barrier, every way it can look."""
    registry = None if at_entry is None else at_entry.registry
    return {
        "entry": seen(at_entry),
        **{name: seen(ctx) for name, ctx in ways.items()},
        "greeting": None if registry is None else registry.custom["greeting"].value["text"],
        "is_current_registry": registry is not None and registry is manager.registry,
    }


class Reloader:
    """Edits the registry file and reloads the manager in a loop, on a thread."""

    def __init__(self, manager: RegistryManager, path: Path, data: dict[str, Any]) -> None:
        self.manager, self.path, self.data = manager, path, data
        self.written: set[str] = {data["custom"]["greeting"]["value"]["text"]}
        self.reloads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-reloader", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                text = f"greeting {self.reloads + 1}"
                self.data["custom"]["greeting"]["value"]["text"] = text
                self.written.add(text)
                write_json(self.path, self.data)
                self.manager.reload()
                self.reloads += 1
        except BaseException as exc:  # reported by the test
            self.error = exc

    @contextmanager
    def running(self) -> Iterator[Reloader]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(15)
        assert not self._thread.is_alive()
        assert self.error is None, repr(self.error)


@pytest.fixture
def manager(
    control_plane: ControlPlaneServer, make_manager: Callable[..., RegistryManager]
) -> RegistryManager:
    return make_manager("hello", registry_api=control_plane.address, auto_reload=False)


@pytest.fixture
def reloader(
    manager: RegistryManager, registry_file: Path, registry_data: dict[str, Any]
) -> Reloader:
    return Reloader(manager, registry_file, registry_data)


def check(answers: list[tuple[int, dict[str, Any]]], reloader: Reloader) -> None:
    assert len(answers) == WORKERS * ROUNDS
    for worker, body in answers:
        want = expected(worker)
        assert {k: v for k, v in body.items() if k not in ("greeting", "is_current_registry")} == {
            k: want for k in body if k not in ("greeting", "is_current_registry")
        }, (worker, body)
        assert body["greeting"] in reloader.written  # a loaded registry, never None
    assert reloader.reloads >= 2, "the registry did not reload while requests ran"


# -- WSGI: real threads, threaded werkzeug + Flask ------------------------------------------------
def flask_app(manager: RegistryManager) -> Flask:
    app = Flask(__name__)
    SOAJS(app, registry=manager, trusted_gateways="*")
    barrier = threading.Barrier(WORKERS, timeout=BARRIER_TIMEOUT)

    @app.get("/who")
    def who() -> Any:
        at_entry = current_context()
        if request.args.get("together"):
            barrier.wait()  # every worker's request is in flight now
        ways = {"current": current_context(), "g": g.soajs, "accessor": get_soajs_context(request)}
        return observe(at_entry, ways, manager)

    return app


def test_threads_against_a_threaded_wsgi_server_see_only_their_own_tenant(
    manager: RegistryManager, reloader: Reloader
) -> None:
    app = flask_app(manager)
    with werkzeug_server(app) as served:

        def worker(index: int) -> list[tuple[int, dict[str, Any]]]:
            out = []
            with httpx.Client(base_url=served.url, timeout=30) as client:
                for _ in range(ROUNDS):
                    response = client.get(
                        "/who?together=1", headers=[(b"soajsinjectobj", header(index))]
                    )
                    assert response.status_code == 200, response.text
                    out.append((index, response.json()))
            return out

        with reloader.running(), ThreadPoolExecutor(WORKERS) as pool:
            results = [a for answers in pool.map(worker, range(WORKERS)) for a in answers]
        check(results, reloader)
        # reloads over: a (cached) context reaches exactly the registry loaded last
        for index in range(WORKERS):
            body = httpx.get(served.url + "/who", headers=[(b"soajsinjectobj", header(index))])
            assert body.json()["is_current_registry"] is True
            assert body.json()["current"] == expected(index)


# -- ASGI: asyncio tasks, uvicorn + FastAPI ----------------------------------------------------
def fastapi_app(manager: RegistryManager) -> FastAPI:
    app = FastAPI()
    setup(app, registry=manager, trusted_gateways="*")
    barriers: list[asyncio.Barrier] = []  # made on the server's own event loop

    @app.get("/who")
    async def who(req: ASGIRequest, together: int = 0) -> Any:
        at_entry = current_context()
        if together:
            if not barriers:
                barriers.append(asyncio.Barrier(WORKERS))
            async with asyncio.timeout(BARRIER_TIMEOUT):
                await barriers[0].wait()  # every task's request is in flight now
            await asyncio.sleep(0)
        ways = {
            "current": current_context(),
            "accessor": get_soajs_context(req),
            "scope": req.scope.get("soajs"),
            "state": req.state.soajs,
        }
        return observe(at_entry, ways, manager)

    return app


def test_tasks_against_uvicorn_see_only_their_own_tenant(
    manager: RegistryManager, reloader: Reloader
) -> None:
    with uvicorn_server(fastapi_app(manager)) as served:

        async def run() -> list[tuple[int, dict[str, Any]]]:
            async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:

                async def task(index: int) -> list[tuple[int, dict[str, Any]]]:
                    out = []
                    for _ in range(ROUNDS):
                        response = await client.get(
                            "/who", params={"together": 1},
                            headers=[(b"soajsinjectobj", header(index))],
                        )  # fmt: skip
                        assert response.status_code == 200, response.text
                        out.append((index, response.json()))
                    return out

                groups = await asyncio.gather(*(task(i) for i in range(WORKERS)))
                return [answer for group in groups for answer in group]

        with reloader.running():
            results = asyncio.run(run())
        check(results, reloader)
        for index in range(WORKERS):
            body = httpx.get(served.url + "/who", headers=[(b"soajsinjectobj", header(index))])
            assert body.json()["is_current_registry"] is True
            assert body.json()["state"] == expected(index)
