"""The local control plane: what the demo, the examples and the tests run against.

``python -m soajs control-plane --registry FILE --port 5000`` serves
``GET /getRegistry``, ``POST /register``, ``GET /heartbeat`` and
``GET /reloadRegistry`` from a registry JSON file, with the gateway's envelope.
"""

from soajs.controlplane.app import create_app
from soajs.controlplane.server import ControlPlaneServer, serve
from soajs.controlplane.store import RegistrationError, RegistryFileError, RegistryStore

__all__ = [
    "ControlPlaneServer",
    "RegistrationError",
    "RegistryFileError",
    "RegistryStore",
    "create_app",
    "serve",
]
