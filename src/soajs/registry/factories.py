"""The offline constructors of ``RegistryManager``: ``from_dict`` and ``from_file``.

A mixin, so ``soajs.registry.manager`` stays about the live manager; the
offline class itself is ``soajs.registry.offline.OfflineRegistryManager``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soajs.config import Config
    from soajs.registry.client import ServiceType
    from soajs.registry.offline import OfflineRegistryManager

__all__ = ["OfflineFactories"]


class OfflineFactories:
    """``RegistryManager.from_dict`` / ``from_file`` (a mixin of ``RegistryManager``)."""

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        service_name: str = "test",
        *,
        env_code: str | None = None,
        service_type: ServiceType = "service",
        config: Config | None = None,
    ) -> OfflineRegistryManager:
        """A ready manager over ``data`` (the registry as ``GET /getRegistry`` serves it).

        No network, no thread, no ``SOAJS_*`` variable read (``env_code``
        defaults to the registry's ``environment``, else ``dev``). The data
        goes through the same models as a control plane's answer; an invalid
        registry raises ``ConfigurationError`` with the
        field path. ``reload``
        reads ``data`` again, so a test may change the dict, then reload.
        """
        from soajs.registry.offline import OfflineRegistryManager, load_registry_data

        return OfflineRegistryManager(
            lambda: load_registry_data(data),
            service_name,
            env_code=env_code,
            service_type=service_type,
            config=config,
            source="dict",
        )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        service_name: str = "test",
        *,
        env_code: str | None = None,
        service_type: ServiceType = "service",
        config: Config | None = None,
    ) -> OfflineRegistryManager:
        """A ready manager over the registry JSON file ``path`` (bare, or a captured
        ``getRegistry`` envelope); ``reload()`` reads the file again. See ``from_dict``."""
        from soajs.registry.offline import OfflineRegistryManager, load_registry_data

        return OfflineRegistryManager(
            lambda: load_registry_data(path),
            service_name,
            env_code=env_code,
            service_type=service_type,
            config=config,
            source=str(path),
        )
