"""The ``soajs`` pytest plugin, loaded through the ``pytest11`` entry point.

Installed with the package; ``pytest -p no:soajs`` turns it off. Fixtures:

``soajs_registry_data``
    The registry dict the other fixtures serve (default
    ``make_registry_data``); override it in a conftest or
    a test module to serve your own.
``soajs_registry``
    An offline ``RegistryManager`` over ``soajs_registry_data``:
    no network, no thread (``from_dict``).
``soajs_control_plane``
    A real local control plane (``soajs.controlplane.ControlPlaneServer``)
    on a free loopback port, in a thread, serving ``soajs_registry_data``;
    ``SOAJS_REGISTRY_API`` and ``SOAJS_ENV`` point at it for the test; stopped
    after it.
``soajs_make_control_plane``
    A factory: ``soajs_make_control_plane(registry_dict_or_file)`` starts one
    more (each stopped after the test).
``soajs_gateway_client``
    A factory: ``soajs_gateway_client(app, header=None)`` returns a client that
    calls the ASGI or WSGI ``app`` in-process from a trusted gateway address
    (see ``soajs.testing.clients``); an ASGI client runs the app's lifespan.
``soajs_isolated``
    Resets the process-wide state (circuit breakers, pooled connector
    clients) before and after the test. Opt-in: request the fixture, mark the
    test ``@pytest.mark.soajs_isolated``, or set ``soajs_isolation = true`` in
    the pytest ini to apply it to every test.

pytest-httpx: its ``httpx_mock`` intercepts every httpx transport, the
RegistryManager's own calls included. For a test that uses ``httpx_mock``
and sets no ``should_mock`` of its own, the plugin adds one that lets the
calls to the control planes started by these fixtures through, so a test
passes or fails the same whatever the fixture order. A test that mocks the
control plane itself (no kit control plane running) is unaffected.
"""

from __future__ import annotations

import copy
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from soajs.testing.isolation import reset_process_state
from soajs.testing.registry import make_registry_data

__all__ = ["control_plane_addresses", "should_mock"]

_live: set[str] = set()
_live_lock = threading.Lock()

MARKER = "soajs_isolated"
INI = "soajs_isolation"


def control_plane_addresses() -> frozenset[str]:
    """``host:port`` of every control plane the plugin's fixtures are running now."""
    with _live_lock:
        return frozenset(_live)


def should_mock(request: Any) -> bool:
    """pytest-httpx's ``should_mock``: everything but the kit's control planes."""
    url = request.url
    return f"{url.host}:{url.port}" not in control_plane_addresses()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI,
        "reset soajs process-wide state (circuit breakers, pooled clients) around every test",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: reset soajs circuit breakers and pooled connector clients around this test",
    )


def _httpx_mock_has_should_mock() -> bool:
    """pytest-httpx >= 0.32 takes ``should_mock``; older ones would refuse the option."""
    try:
        from pytest_httpx._options import _HTTPXMockOptions
    except ImportError:
        return False
    return "should_mock" in inspect.signature(_HTTPXMockOptions).parameters


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not any("httpx_mock" in getattr(item, "fixturenames", ()) for item in items):
        return
    if not _httpx_mock_has_should_mock():
        return  # documented: upgrade pytest-httpx to keep the control plane unmocked
    for item in items:
        if "httpx_mock" not in getattr(item, "fixturenames", ()):
            continue
        if any("should_mock" in m.kwargs for m in item.iter_markers("httpx_mock")):
            continue  # the test decided
        item.add_marker(pytest.mark.httpx_mock(should_mock=should_mock))


@pytest.fixture
def soajs_isolated() -> Iterator[None]:
    """Circuit breakers and pooled connector clients reset before and after the test."""
    reset_process_state()
    yield
    reset_process_state()


@pytest.fixture(autouse=True)
def _soajs_isolation_on_demand(request: pytest.FixtureRequest) -> None:
    # Cheap for everyone else: a marker lookup and an ini read.
    if "soajs_isolated" in request.fixturenames:
        return
    if request.node.get_closest_marker(MARKER) is not None or request.config.getini(INI):
        request.getfixturevalue("soajs_isolated")


@pytest.fixture
def soajs_registry_data() -> dict[str, Any]:
    """The registry the kit's fixtures serve; override to serve your own."""
    return make_registry_data()


@pytest.fixture
def soajs_registry(soajs_registry_data: dict[str, Any]) -> Iterator[Any]:
    """An offline RegistryManager (no network, no thread) over ``soajs_registry_data``."""
    from soajs.registry import RegistryManager

    service = next((n for n in soajs_registry_data.get("services", {}) if n != "controller"), None)
    manager = RegistryManager.from_dict(soajs_registry_data, service or "test")
    yield manager
    manager.stop()


@pytest.fixture
def soajs_make_control_plane(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Any]]:
    """Factory of real local control planes: ``make(registry_dict_or_path, host=...)``."""
    from soajs.controlplane import ControlPlaneServer

    with ExitStack() as stack:

        def make(registry: dict[str, Any] | str | Path, host: str = "127.0.0.1") -> Any:
            if isinstance(registry, dict):
                path = tmp_path_factory.mktemp("soajs-control-plane") / "registry.json"
                path.write_text(json.dumps(registry))
            else:
                path = Path(registry)
            server = ControlPlaneServer(path, host=host, port=0).start()
            address = server.address
            with _live_lock:
                _live.add(address)

            def stop() -> None:
                try:
                    server.stop()
                finally:
                    with _live_lock:
                        _live.discard(address)

            stack.callback(stop)
            return server

        yield make


@pytest.fixture
def soajs_control_plane(
    soajs_make_control_plane: Callable[..., Any],
    soajs_registry_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A real local control plane serving ``soajs_registry_data`` on a free port;
    ``SOAJS_REGISTRY_API`` and ``SOAJS_ENV`` point at it for the test."""
    server = soajs_make_control_plane(copy.deepcopy(soajs_registry_data))
    monkeypatch.setenv("SOAJS_REGISTRY_API", server.address)
    monkeypatch.setenv("SOAJS_ENV", str(soajs_registry_data.get("environment") or "dev"))
    return server


def _is_asgi(app: Any) -> bool:
    call = getattr(app, "__call__", None)  # noqa: B004 - an app object, not "is it callable"
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call)


@pytest.fixture
def soajs_gateway_client() -> Iterator[Callable[..., Any]]:
    """Factory: ``soajs_gateway_client(app, header=None, **options)`` -> a test client
    that calls ``app`` from a trusted gateway address. ASGI apps get Starlette's
    ``TestClient`` (lifespan run when the app supports it, e.g. not Django's
    ``get_asgi_application()``; ``lifespan=False`` skips it; closed after the
    test); WSGI apps (Flask, Django's ``WSGIHandler``) a Werkzeug client with
    ``REMOTE_ADDR``. ``peer`` is a host or ``(host, port)`` for both."""
    from soajs.testing.clients import asgi_client, wsgi_client

    with ExitStack() as stack:

        def make(app: Any, header: str | bytes | None = None, **options: Any) -> Any:
            if _is_asgi(app):
                return stack.enter_context(asgi_client(app, header, **options))
            options.pop("lifespan", None)  # WSGI has none: the same call works for both
            return wsgi_client(app, header, **options)

        yield make
