"""Running the local control plane: in the foreground (the CLI) or in a thread.

>>> with ControlPlaneServer("examples/registry.json", port=0) as cp:  # doctest: +SKIP
...     os.environ["SOAJS_REGISTRY_API"] = cp.address
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from soajs.controlplane.app import create_app
from soajs.controlplane.store import RegistryStore

__all__ = ["ControlPlaneServer", "serve"]

logger = logging.getLogger("soajs.controlplane")


def _config(store: RegistryStore, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(store),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def serve(registry_file: str | Path, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve in the foreground until interrupted (``python -m soajs control-plane``)."""
    store = RegistryStore(registry_file, host=host)
    logger.info("local control plane on http://%s:%d serving %s", host, port, registry_file)
    uvicorn.Server(_config(store, host, port)).run()


class ControlPlaneServer:
    """The local control plane on a background thread (tests, demo, notebooks).

    ``port=0`` binds a free port; read it back from ``port`` or
    ``address`` (``host:port``, the value for ``SOAJS_REGISTRY_API``).
    """

    def __init__(self, registry_file: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = RegistryStore(registry_file, host=host)
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.store, host, self.port))
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, timeout: float = 10.0) -> ControlPlaneServer:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"soajs-control-plane-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError(f"local control plane did not start on {self.address}")

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ControlPlaneServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
