"""A Flask app with an ``async def`` view that calls another service: run by gunicorn in tests.

Under a WSGI server Flask runs each async view with asgiref's
``async_to_sync``: a new event loop (in a new thread) per request, the
shape that leaked one pooled AsyncClient per request (issue 12, finding 4).
``SOAJS_TEST_CALLEE`` is the ``host:port`` of the service it calls.
"""

from __future__ import annotations

import json
import os

from flask import Flask

from soajs.connector import AsyncServiceConnector
from soajs.context import parse_inject_header

host, port = os.environ["SOAJS_TEST_CALLEE"].rsplit(":", 1)
_RAW = json.dumps(
    {
        "tenant": {"id": "t1", "code": "TST1"},
        "key": {"iKey": "ikey", "eKey": "ekey", "config": {}},
        "application": {"product": "P", "package": "P_B"},
        "awareness": {
            "interConnect": [
                {"name": "b", "version": "1", "host": host, "port": int(port), "latest": "1"}
            ]
        },
    }
).encode()
_parsed = parse_inject_header([_RAW], 65536).context
assert _parsed is not None
CONTEXT = _parsed.bind(None, _RAW)

app = Flask(__name__)


@app.get("/call")
async def call() -> dict[str, int]:
    answer = await AsyncServiceConnector(CONTEXT).get("b", "/x", version="1")
    return {"status": answer.status_code, "pid": os.getpid()}
