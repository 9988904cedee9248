"""The ``soajs`` command line (``python -m soajs``).

``soajs control-plane --registry FILE [--host H] [--port P]``
    Serve the local control plane from a registry JSON file.
``soajs registry [--service NAME] [--env ENV] [--type service|daemon]``
    Load the registry from ``SOAJS_REGISTRY_API`` once and print a summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from soajs.errors import SoajsError

__all__ = ["main"]

logger = logging.getLogger("soajs.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soajs", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    cp = sub.add_parser("control-plane", help="serve the local control plane")
    cp.add_argument("--registry", required=True, help="registry JSON file")
    cp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    cp.add_argument("--port", type=int, default=5000, help="port (default 5000)")

    reg = sub.add_parser("registry", help="load the registry once and print a summary")
    reg.add_argument("--service", required=True, help="service name to load the registry for")
    reg.add_argument("--env", default=None, help="environment code (default SOAJS_ENV)")
    reg.add_argument("--type", default="service", choices=["service", "daemon"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "control-plane":
            from soajs.controlplane import serve

            serve(args.registry, host=args.host, port=args.port)
            return 0
        from soajs.registry import RegistryManager

        with RegistryManager(args.service, args.env, args.type, auto_reload=False) as manager:
            summary = {
                "environment": manager.registry.environment,
                "databases": sorted(manager.get_all_databases()),
                "services": sorted(manager.registry.services),
                "awareness": manager.awareness.model_dump() if manager.awareness else None,
            }
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return 0
    except (SoajsError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
