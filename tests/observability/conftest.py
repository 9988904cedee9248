"""The integration fixtures (a real control plane on loopback), for observability tests.

``_own_runtime_dir`` (autouse) gives each test its own SOAJS_RUNTIME_DIR, as in
tests/integration: two test runs on one machine would otherwise share the
default directory (one per user), its host-registration lock included.
"""

from tests.integration.conftest import (
    _own_runtime_dir,
    control_plane,
    make_manager,
    registry_data,
    registry_file,
)

__all__ = ["_own_runtime_dir", "control_plane", "make_manager", "registry_data", "registry_file"]
