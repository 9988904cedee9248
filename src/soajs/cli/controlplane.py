"""``soajs control-plane --registry FILE``: the local control plane, in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from soajs.cli._common import EXIT_OK, EXIT_USAGE, add_common, fail

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    cp = sub.add_parser("control-plane", help="serve the local control plane from a registry file")
    add_common(cp, json_flag=False)
    cp.add_argument("--registry", required=True, help="registry JSON file")
    cp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    cp.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    cp.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from soajs.controlplane import RegistryFileError, serve

    if not 0 < args.port < 65536:
        fail(f"--port must be 1-65535, got {args.port}", EXIT_USAGE)
    if not Path(args.registry).is_file():
        fail(f"registry file not found: {args.registry}", EXIT_USAGE)
    try:
        serve(args.registry, host=args.host, port=args.port)
    except RegistryFileError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return EXIT_OK
