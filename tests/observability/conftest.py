"""The integration fixtures (a real control plane on loopback), for observability tests."""

from tests.integration.conftest import control_plane, registry_data, registry_file

__all__ = ["control_plane", "registry_data", "registry_file"]
