"""``apiList`` built from real FastAPI, Starlette, Flask and Django route tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from soajs import apilist
from soajs.apilist.common import MAX_ENTRIES, MAX_LABEL

ROOT = Path(__file__).resolve().parents[2]


def test_fastapi_routes_with_summary_tags_and_mounted_routers() -> None:
    from fastapi import APIRouter, FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}", summary="Read an item", tags=["Items", "Other"])
    def read(item_id: int) -> dict[str, int]:
        return {}

    @app.post("/items")
    def create() -> None:
        """Create an item.

        More text."""

    @app.get("/hidden", include_in_schema=False)
    def hidden() -> None: ...

    router = APIRouter(prefix="/admin", tags=["Admin"])

    @router.delete("/users/{uid}")
    def delete_user(uid: str) -> None: ...

    app.include_router(router)
    sub = FastAPI()

    @sub.put("/thing")
    def put_thing() -> None: ...

    app.mount("/sub", sub)
    entries = apilist.discover(app)
    assert entries is not None
    assert {"l": "Read an item", "v": "/items/:item_id", "m": "get", "group": "Items"} in entries
    assert {"l": "Create", "v": "/items", "m": "post"} in entries  # FastAPI's own summary
    assert {
        "l": "Delete User",
        "v": "/admin/users/:uid",
        "m": "delete",
        "group": "Admin",
    } in entries
    assert {"l": "Put Thing", "v": "/sub/thing", "m": "put"} in entries
    paths = {e["v"] for e in entries}
    assert "/hidden" not in paths and "/docs" not in paths and "/openapi.json" not in paths
    assert all(e["m"] not in ("head", "options") for e in entries)


def test_a_wrapped_starlette_app_is_found_through_its_middlewares() -> None:
    from starlette.applications import Starlette
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def hello(request: object) -> None: ...

    app = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"]),
                            Mount("/static", StaticFiles(directory=str(ROOT)))])  # fmt: skip
    wrapped = GZipMiddleware(app)
    entries = apilist.discover(wrapped)
    assert entries == [{"l": "hello", "v": "/hello", "m": "get"},
                       {"l": "hello", "v": "/hello", "m": "post"}]  # fmt: skip


def test_flask_url_map_skips_static_and_groups_blueprints() -> None:
    from flask import Blueprint, Flask

    app = Flask(__name__)

    @app.route("/users/<int:uid>", methods=["GET", "PUT"])
    def user(uid: int) -> str:
        """One user."""
        return ""

    bp = Blueprint("shop", __name__)

    @bp.route("/cart")
    def cart() -> str:
        return ""

    app.register_blueprint(bp, url_prefix="/shop")
    entries = apilist.discover(app.wsgi_app)  # the bound method the middleware wraps
    assert entries is not None
    assert {"l": "One user.", "v": "/users/:uid", "m": "get"} in entries
    assert {"l": "One user.", "v": "/users/:uid", "m": "put"} in entries
    assert {"l": "cart", "v": "/shop/cart", "m": "get", "group": "shop"} in entries
    assert not any(e["v"].startswith("/static") for e in entries)


def test_django_url_patterns_are_walked() -> None:
    code = """
import json, django
from django.conf import settings
settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=['*'])
django.setup()
from django.urls import include, path, re_path
from django.views import View
from django.http import HttpResponse
class Items(View):
    '''Items of the shop.'''
    def get(self, request): return HttpResponse()
    def post(self, request): return HttpResponse()
def one(request, pk): return HttpResponse()
inner = [path('<int:pk>/', one, name='one_item')]
urlpatterns = [path('items/', Items.as_view()), path('shop/', include(inner)),
               re_path(r'^old/(?P<slug>[a-z]+)/$', one), re_path(r'^weird/(a|b)+$', one)]
from soajs import apilist
print(json.dumps(apilist.discover('django')))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert {"l": "Items of the shop.", "v": "/items/", "m": "get"} in entries
    assert {"l": "Items of the shop.", "v": "/items/", "m": "post"} in entries
    assert {"l": "one item", "v": "/shop/:pk/", "m": "get"} in entries
    assert {"l": "one", "v": "/old/:slug/", "m": "get"} in entries  # unnamed: the view's name
    assert not any("weird" in e["v"] for e in entries)


def test_bounds_on_entries_and_labels() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def f(request: object) -> None: ...

    routes = [Route(f"/r{i}", f, name="x" * 5000) for i in range(MAX_ENTRIES + 50)]
    entries = apilist.discover(Starlette(routes=routes))
    assert entries is not None and len(entries) == MAX_ENTRIES
    assert all(len(e["l"]) <= MAX_LABEL for e in entries)


def test_unknown_apps_and_broken_tables_give_nothing_and_never_raise() -> None:
    assert apilist.discover(object()) is None

    class Broken:
        @property
        def routes(self) -> list[object]:
            raise RuntimeError("boom")

    assert apilist.discover(Broken()) is None

    class Manager:
        config = None
        got: ClassVar[list[Any]] = []

        def set_api_list(self, entries: Any) -> None:
            self.got.append(entries)

    class Odd:
        routes: ClassVar[list[object]] = [object(), 42]

    apilist.announce(Manager(), Odd())  # never raises
    (source,) = Manager.got
    assert callable(source) and source() == []


def test_path_parameters_of_every_syntax_become_node_params() -> None:
    """Starlette writes the name first (``{id:int}``), werkzeug the converter first,
    with arguments (``<string(length=2):code>``): both give ``:name``."""
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def item(request: object) -> None: ...

    star = apilist.discover(Starlette(routes=[Route("/items/{item_id:int}", item),
                                              Route("/files/{rest:path}", item)]))  # fmt: skip
    assert star is not None
    assert {e["v"] for e in star} == {"/items/:item_id", "/files/:rest"}

    app = Flask(__name__)

    @app.route("/lang/<string(length=2):code>/<any(a, b):kind>")
    def lang(code: str, kind: str) -> str:
        return ""

    flask_entries = apilist.discover(app)
    assert flask_entries is not None
    assert [e["v"] for e in flask_entries] == ["/lang/:code/:kind"]


def test_fastapi_routes_added_after_the_schema_was_cached_are_listed() -> None:
    """The custom ``app.openapi`` FastAPI documents caches in ``openapi_schema``: a route
    added after the first registration must still reach the next one."""
    from fastapi import FastAPI
    from fastapi.openapi.utils import get_openapi

    app = FastAPI()

    @app.get("/first")
    def first() -> None: ...

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        app.openapi_schema = get_openapi(title="t", version="1", routes=app.routes)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    assert [e["v"] for e in apilist.discover(app) or []] == ["/first"]

    @app.get("/late")
    def late() -> None: ...

    assert [e["v"] for e in apilist.discover(app) or []] == ["/first", "/late"]
    assert "/late" in app.openapi()["paths"]  # the app's own schema is the fresh one


def test_fastapi_behind_its_middleware_stack_labels_as_its_schema_does() -> None:
    """The middleware sees the router, not the FastAPI app: the labels must still be the
    summaries FastAPI's schema shows (its own, else derived from the function's name)."""
    from fastapi import APIRouter, FastAPI

    app = FastAPI()

    @app.get("/order_items/{oid}")
    def read_order_items(oid: str) -> None:
        """Docstrings go to the description, not the summary."""

    router = APIRouter(tags=["Shop"])

    @router.post("/cart", summary="Fill the cart")
    def cart() -> None: ...

    app.include_router(router)
    from_app = apilist.discover(app)
    from_router = apilist.discover(app.router)  # what the middleware is given
    assert from_router == from_app
    assert {"l": "Read Order Items", "v": "/order_items/:oid", "m": "get"} in (from_router or [])
    assert {"l": "Fill the cart", "v": "/cart", "m": "post", "group": "Shop"} in (from_router or [])
