"""A WSGI app for ``gunicorn --preload -w 2``: the master makes a MongoDB client at import
(as an app that warms its connections would); each worker answers whether it got the
master's client or its own (test_mongo_preload.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from soajs import RegistryManager
from soajs.testing import make_database, make_registry_data

PORT = int(os.environ.get("TEST_MONGO_PORT", "1"))
data = make_registry_data(databases={"main": make_database("main", port=PORT)})
manager = RegistryManager.from_dict(data, "hello")
MASTER = os.getpid()
PARENT_CLIENT = manager.mongo.client(manager.core_db("main"))  # made in the master


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    client = manager.mongo.client(manager.core_db("main"))
    body = (
        f'{{"pid": {os.getpid()}, "master": {MASTER}, '
        f'"parents": {str(client is PARENT_CLIENT).lower()}, "cached": {len(manager.mongo)}}}'
    )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]
