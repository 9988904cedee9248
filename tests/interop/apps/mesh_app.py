"""The mesh scenario's service: the FastAPI example plus a route that calls another service.

Served like the example (``uvicorn tests.interop.apps.mesh_app:app``), configured by
the same SOAJS_* variables (examples/_service.py). ``/whoami`` also says which
instance answered (its ``SOAJS_SRVIP``) and how the call arrived: ``mesh`` when the
header is the caller's own, forwarded (it lists this service in its interConnect),
``gateway`` when the gateway built it. ``/call/{name}`` calls ``name``'s
``/whoami`` with the ServiceConnector; with ``?handshake=DIR`` it calls once, writes
the answer to ``DIR/first.json``, waits for ``DIR/go`` and calls again with the same
request context, so a test can take the first callee down in between.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from examples._service import make_registry, whoami
from fastapi import FastAPI, Request

from soajs.contrib.fastapi import setup
from soajs.middleware import get_soajs_context

SERVICE = os.environ.get("SOAJS_SERVICE_NAME", "hello")

registry = make_registry(autostart=False)
app = FastAPI(title="soajs-python interop mesh service")
# Two instances share a port on 127.0.0.1 and 127.0.0.2: each maintenance listener
# binds the IP its instance registers (SOAJS_SRVIP), so a stopped instance is seen
# as down by the gateway's health checks instead of answered for by the other.
setup(app, registry=registry)


def _arrived_via(raw: str | None) -> str:
    try:
        links = json.loads(raw or "{}").get("awareness", {}).get("interConnect") or []
    except (ValueError, AttributeError):
        return "unknown"
    return "mesh" if any(link.get("name") == SERVICE for link in links) else "gateway"


@app.get("/whoami")
def who(request: Request) -> dict[str, Any]:
    body = whoami(get_soajs_context(request))
    body["instance"] = os.environ.get("SOAJS_SRVIP")
    body["via"] = _arrived_via(request.headers.get("soajsinjectobj"))
    return body


def _call(connector: Any, name: str) -> dict[str, Any]:
    planned = connector.connect(name)
    answer = connector.get(name, "/whoami")
    return {"planned": planned.mode, "status": answer.status_code, "callee": answer.json()}


@app.get("/call/{name}")
def call(name: str, request: Request, handshake: str | None = None) -> dict[str, Any]:
    from soajs import ServiceConnector  # type: ignore[attr-defined,unused-ignore]

    connector = ServiceConnector(context=get_soajs_context(request))
    first = _call(connector, name)
    if handshake is None:
        return {"first": first}
    folder = Path(handshake)
    (folder / "first.json").write_text(json.dumps(first))
    deadline = time.monotonic() + 30
    while not (folder / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"first": first, "second": _call(connector, name)}
