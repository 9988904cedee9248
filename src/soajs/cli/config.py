"""``soajs config validate FILE``: every problem of a service configuration, with its field path.

The file is the JSON object given to ``soajs.Config`` (the keys of the
``POST /register`` body: ``name``, ``group``, ``port``, ``version``,
``extKeyRequired``, ``maintenance``...).
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel, ValidationError

from soajs.cli._common import EXIT_FAILED, EXIT_OK, add_common, emit, read_json_file
from soajs.config import Config

__all__ = ["add_parser", "problems"]


def add_parser(sub: Any) -> None:
    cfg = sub.add_parser("config", help="check a service configuration file")
    add_common(cfg, json_flag=False)
    actions = cfg.add_subparsers(dest="action", required=True, metavar="ACTION")
    val = actions.add_parser(
        "validate", help="list every problem of a Config JSON file with its field path"
    )
    add_common(val)
    val.add_argument("file", help="the configuration JSON file ('-': stdin)")
    val.set_defaults(func=_validate)


class _Checked(Config):
    """Config's fields and validators, raising pydantic's own errors (each with its
    location) where ``Config`` folds them into one ConfigurationError."""

    def __init__(self, /, **data: Any) -> None:
        BaseModel.__init__(self, **data)


def problems(data: Any) -> tuple[Config | None, list[dict[str, str]]]:
    """The Config, or every problem as ``{"path", "message"}``."""
    if not isinstance(data, dict):
        return None, [{"path": "(top level)", "message": "expected a JSON object"}]
    try:
        _Checked(**data)
        return Config.model_validate(data), []
    except ValidationError as exc:
        found = []
        for err in exc.errors(include_url=False):
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] != "missing" and "got " not in message:
                message += f", got {err.get('input')!r}"
            path = ".".join(str(p) for p in err["loc"]) or "(top level)"
            found.append({"path": path, "message": message})
        return None, found
    except ValueError as exc:  # ConfigurationError: a check outside the fields
        return None, [{"path": "(top level)", "message": str(exc)}]


def _validate(args: argparse.Namespace) -> int:
    data = read_json_file(args.file, "configuration file")
    config, found = problems(data)
    if config is None:
        lines = [f"{args.file}: {len(found)} problem(s)"]
        lines += [f"  {p['path']}: {p['message']}" for p in found]
        emit(args, {"valid": False, "problems": found}, "\n".join(lines))
        return EXIT_FAILED
    summary = {
        "valid": True,
        "name": config.name,
        "version": config.version,
        "port": config.port,
        "maintenance_port": config.maintenance_port(None),
        "ext_key_required": config.ext_key_required,
    }
    emit(
        args,
        summary,
        f"{args.file}: valid ({config.name} v{config.version}, port {config.port}, "
        f"maintenance port {summary['maintenance_port']} with the default maintenanceInc)",
    )
    return EXIT_OK
