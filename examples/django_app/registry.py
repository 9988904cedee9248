"""The example's RegistryManager (``settings.SOAJS["registry"]`` points here)."""

from examples._service import make_registry

registry = make_registry(autostart=True)
