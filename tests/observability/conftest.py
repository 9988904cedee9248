"""The integration fixtures (a real control plane on loopback), for observability tests."""

from tests.integration.conftest import control_plane, make_manager, registry_data, registry_file

__all__ = ["control_plane", "make_manager", "registry_data", "registry_file"]
