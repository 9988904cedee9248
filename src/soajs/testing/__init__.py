"""``soajs.testing``: write tests for a service behind the SOAJS middleware.

* gateway headers: ``make_inject_header`` (and ``make_inject_object``,
  ``make_urac``, ``make_acl``, ``make_interconnect``,
  ``encode_inject_object``), shaped as gateway 4.3.4 builds them;
* registries with no control plane: ``make_registry_data``, then
  ``RegistryManager.from_dict(...)`` / ``RegistryManager.from_file(...)``;
* clients that call an app from a trusted gateway address:
  ``asgi_client``, ``asgi_async_client``, ``wsgi_client``,
  ``wsgi_header_environ``;
* ports and a ``Config`` for the real maintenance listener: ``free_port_pair``,
  ``make_config``;
* process-wide state: ``reset_process_state`` (breakers, pooled
  clients), ``reset_middleware`` (a shared app's context cache);
* the pytest plugin (``soajs.testing.plugin``), loaded automatically.

Guide: the "Testing" page of the docs.
"""

from soajs.registry.offline import OfflineRegistryManager
from soajs.testing.clients import (
    GATEWAY_PEER,
    asgi_async_client,
    asgi_client,
    inject_headers,
    wsgi_client,
    wsgi_header_environ,
)
from soajs.testing.headers import (
    encode_inject_object,
    make_acl,
    make_context,
    make_inject_header,
    make_inject_object,
    make_interconnect,
    make_urac,
)
from soajs.testing.isolation import reset_middleware, reset_process_state
from soajs.testing.ports import free_port, free_port_pair, make_config
from soajs.testing.registry import make_database, make_registry_data

__all__ = [
    "GATEWAY_PEER",
    "OfflineRegistryManager",
    "asgi_async_client",
    "asgi_client",
    "encode_inject_object",
    "free_port",
    "free_port_pair",
    "inject_headers",
    "make_acl",
    "make_config",
    "make_context",
    "make_database",
    "make_inject_header",
    "make_inject_object",
    "make_interconnect",
    "make_registry_data",
    "make_urac",
    "reset_middleware",
    "reset_process_state",
    "wsgi_client",
    "wsgi_header_environ",
]
