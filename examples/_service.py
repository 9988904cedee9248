"""What the three examples share: a RegistryManager and a /whoami answer, from SOAJS_* alone.

Variables (besides the library's own SOAJS_REGISTRY_API, SOAJS_ENV, ...):
``SOAJS_SERVICE_NAME`` (default ``hello``), ``SOAJS_SERVICE_PORT``
(default ``4381``), ``SOAJS_SERVICE_EXT_KEY_REQUIRED`` (default ``true``; ``false``
makes a public service, which ignores ``soajsinjectobj``) and
``SOAJS_SERVICE_INTERCONNECT`` (``name:version,...``, the services called
mesh-direct). Without ``SOAJS_REGISTRY_API`` the examples run with no
registry (contexts still work; ``context.registry`` is ``None``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from soajs import Config, RegistryManager
from soajs.models import ContextData

logger = logging.getLogger("soajs.examples")


def _inter_connect() -> list[dict[str, str]]:
    items = os.environ.get("SOAJS_SERVICE_INTERCONNECT", "").split(",")
    pairs = [item.strip().partition(":") for item in items if item.strip()]
    return [{"name": name, "version": version or "1"} for name, _, version in pairs]


def service_config() -> Config:
    return Config(
        name=os.environ.get("SOAJS_SERVICE_NAME", "hello"),
        group="Examples",
        port=int(os.environ.get("SOAJS_SERVICE_PORT", "4381")),
        version="1",
        extKeyRequired=os.environ.get("SOAJS_SERVICE_EXT_KEY_REQUIRED", "true").lower()
        not in ("false", "0"),
        interConnect=_inter_connect(),
        tenant_Profile=True,
        provision_ACL=True,
        maintenance={"port": {"type": "maintenance"}, "readiness": "/heartbeat"},
    )


def make_registry(*, autostart: bool) -> RegistryManager | None:
    if not os.environ.get("SOAJS_REGISTRY_API"):
        logger.warning("SOAJS_REGISTRY_API is not set: running without a registry")
        return None
    config = service_config()
    return RegistryManager(config.name, config=config, autostart=autostart, start_degraded=True)


def whoami(context: ContextData | None) -> dict[str, Any]:
    """What a handler saw: the tenant (id, code) and the user, or nulls."""
    if context is None:
        return {"tenant": None, "user": None}
    tenant = context.tenant
    urac = context.urac
    return {
        "tenant": {"id": tenant.id, "code": tenant.code, "name": tenant.name},
        "application": {
            "product": tenant.application.product,
            "package": tenant.application.package,
        },
        "user": None
        if urac is None
        else {"id": urac.id, "username": urac.username, "first_name": urac.first_name,
              "last_name": urac.last_name},
    }  # fmt: skip


def tenant_data(context: ContextData | None, database: str = "orders") -> dict[str, Any]:
    """What ``/tenant-data`` answers: this service's config from the tenant's key, and
    the name of the tenant's own database (resolved, never connected, the URI never shown)."""
    from soajs.errors import ConfigurationError, DatabaseConfigError, NotFoundError, RegistryError

    if context is None:
        return {"service_config": None, "database": None}
    try:
        config: Any = dict(context.service_config())
    except ConfigurationError:  # no registry manager: the service's name is unknown
        config = dict(context.service_config(service_config().name))
    try:
        db = context.tenant_db(database)
    except (NotFoundError, DatabaseConfigError, RegistryError) as exc:
        return {"service_config": config, "database": None, "error": type(exc).__name__}
    return {"service_config": config, "database": {"name": db.name, "kind": db.kind}}
