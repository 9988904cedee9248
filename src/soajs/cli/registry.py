"""``soajs registry show|get|diff``: the registry a service would load, secrets masked.

A source is a control plane (``--registry-api HOST:PORT``, default
``SOAJS_REGISTRY_API``; ``--env``, default ``SOAJS_ENV``; ``--service``)
asked once with ``GET /getRegistry`` (no poller, no registration), or a file
(``--file``: the bare registry or a captured envelope). Either way it goes
through the same models as the service's own load, and what is printed is
their masked dump: credentials, ``key.password``, cookie and session secrets,
and whatever ``soajs.cli.redact`` masks (keys named like secrets, URI
passwords) show as ``**********`` unless ``--reveal-secrets``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from soajs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common,
    emit,
    fail,
    revealing,
    seconds,
)
from soajs.cli.redact import MASK, redact
from soajs.errors import ConfigurationError, NotFoundError
from soajs.models.registry import Registry
from soajs.settings import Settings

__all__ = ["add_parser", "add_source_options", "load_registry"]

KINDS = ("database", "service", "custom", "resource")


def add_source_options(parser: argparse.ArgumentParser, *, file: bool = True) -> None:
    parser.add_argument("--registry-api", metavar="HOST:PORT", help="default SOAJS_REGISTRY_API")
    parser.add_argument("--env", help="environment code (default SOAJS_ENV)")
    parser.add_argument("--service", help="the service to load the registry for")
    parser.add_argument("--type", default="service", choices=["service", "daemon"])
    parser.add_argument("--timeout", type=seconds, default=None, help="seconds (default 5)")
    if file:
        parser.add_argument("--file", help="read the registry from this JSON file instead")


def add_parser(sub: Any) -> None:
    reg = sub.add_parser("registry", help="show, get or diff the registry a service would load")
    add_common(reg, json_flag=False)
    actions = reg.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser("show", help="the whole registry (masked); a summary as text")
    add_common(show)
    add_source_options(show)
    show.set_defaults(func=_show)

    get = actions.add_parser("get", help="one database, service, custom or resource entry")
    add_common(get)
    get.add_argument("kind", choices=KINDS)
    get.add_argument("name")
    add_source_options(get)
    get.set_defaults(func=_get)

    diff = actions.add_parser(
        "diff",
        help="the difference between two registries (exit 1 when they differ)",
        description="Compare two registries. Each side is a JSON file, or a control plane "
        "given as HOST:PORT (asked with --env/--service). Secrets are compared, never printed.",
    )
    add_common(diff)
    diff.add_argument("left", help="a file, or HOST:PORT of a control plane")
    diff.add_argument("right", help="a file, or HOST:PORT of a control plane")
    add_source_options(diff, file=False)
    diff.set_defaults(func=_diff)


def load_registry(args: argparse.Namespace, source: str | None = None) -> Registry:
    """The registry from ``--file`` / ``source`` (a file or HOST:PORT) or the control plane."""
    from pathlib import Path

    from soajs.registry.offline import load_registry_data

    file = source if source is not None else getattr(args, "file", None)
    api = args.registry_api
    if file is not None and (Path(file).exists() or not _looks_like_address(file)):
        try:
            return Registry.model_validate(load_registry_data(file))
        except ConfigurationError as exc:
            fail(str(exc), EXIT_USAGE)
        except ValueError as exc:
            fail(f"{file} is not a valid registry: {_first(exc)}")
    if file is not None:
        api = file
    return _fetch(args, api)


def _looks_like_address(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit())


def _fetch(args: argparse.Namespace, api: str | None) -> Registry:
    from soajs.registry.client import RegistryClient

    try:
        settings = Settings.from_env().override(
            registry_api=api, env=args.env, registry_timeout=args.timeout
        )
        url, env = settings.registry_url, settings.require_env()
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    if not args.service:
        fail("--service is required to ask a control plane (the registry is per service)", 2)
    with RegistryClient(url, timeout=settings.registry_timeout) as client:
        registry = client.get_registry(env, args.service, args.type)
    if not (registry.environment or registry.name):
        fail(
            f"the control plane at {api or settings.registry_api} answered with something "
            "that is not a registry (no environment)"
        )
    return registry


def _first(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc)


def _dump(value: Any, args: argparse.Namespace) -> Any:
    context = {"reveal_secrets": True} if revealing(args) else None
    return value.model_dump(mode="json", by_alias=True, exclude_none=True, context=context)


def _show(args: argparse.Namespace) -> int:
    registry = load_registry(args)
    data = _dump(registry, args)
    dbs = sorted([*registry.core_dbs, *registry.tenant_meta_dbs])
    aware = registry.awareness
    resources = sorted(n for g in registry.resources.values() for n in g)
    lines = [
        f"environment: {registry.environment or registry.name}",
        f"databases:   {', '.join(dbs) or '(none)'}",
        f"services:    {', '.join(sorted(registry.services)) or '(none)'}",
        f"custom:      {', '.join(sorted(registry.custom)) or '(none)'}",
        f"resources:   {', '.join(resources) or '(none)'}",
        f"gateway:     {f'{aware.host}:{aware.port}' if aware else '(unknown)'}",
        f"reload:      every {registry.auto_reload_ms / 1000:g}s",
    ]
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def _get(args: argparse.Namespace) -> int:
    from soajs.registry.snapshot import Snapshot

    registry = load_registry(args)
    snap = Snapshot(registry)
    try:
        if args.kind == "database":
            entry: Any = snap.databases[args.name]
        elif args.kind == "service":
            entry = snap.services[args.name]
        elif args.kind == "custom":
            entry = registry.custom.get(args.name)
            if entry is None:
                fail(f"no custom entry {args.name!r}; known: {', '.join(sorted(registry.custom))}")
        else:
            entry = next(
                (g[args.name] for g in registry.resources.values() if args.name in g), None
            )
            if entry is None:
                known = sorted(n for g in registry.resources.values() for n in g)
                fail(f"no resource {args.name!r}; known: {', '.join(known) or '(none)'}")
    except NotFoundError as exc:
        fail(str(exc))
    emit(args, _dump(entry, args))  # printed as indented JSON, through the redaction
    return EXIT_OK


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    else:
        out[path] = value


def _flat(registry: Registry, *, reveal: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    context = {"reveal_secrets": True} if reveal else None
    dump = registry.model_dump(mode="json", by_alias=True, exclude_none=True, context=context)
    _flatten(dump if reveal else redact(dump), "", out)
    out.pop("timeLoaded", None)  # the control plane stamps every answer
    return out


def _diff(args: argparse.Namespace) -> int:
    left_registry = load_registry(args, args.left)
    right_registry = load_registry(args, args.right)
    # compared with the secrets (a changed password is a difference), shown masked:
    # a path whose shown value is not its real value is a secret, never printed
    left_real, right_real = _flat(left_registry, reveal=True), _flat(right_registry, reveal=True)
    reveal = revealing(args)
    left = left_real if reveal else _flat(left_registry, reveal=False)
    right = right_real if reveal else _flat(right_registry, reveal=False)

    def shown(flat: dict[str, Any], real: dict[str, Any], path: str) -> Any:
        value = flat.get(path, MASK)
        return value if value == real[path] else MASK

    changes: list[dict[str, Any]] = []
    for path in sorted(set(left_real) | set(right_real)):
        if path not in right_real:
            changes.append({"path": path, "change": "removed",
                            "left": shown(left, left_real, path)})  # fmt: skip
        elif path not in left_real:
            changes.append({"path": path, "change": "added",
                            "right": shown(right, right_real, path)})  # fmt: skip
        elif left_real[path] != right_real[path]:
            was, now = shown(left, left_real, path), shown(right, right_real, path)
            if was != left_real[path] or now != right_real[path]:  # a secret: say so only
                changes.append({"path": path, "change": "changed", "secret": True})
            else:
                changes.append({"path": path, "change": "changed", "left": was, "right": now})
    text = []
    for c in changes:
        if c["change"] == "removed":
            text.append(f"- {c['path']}: {json.dumps(c['left'], ensure_ascii=False)}")
        elif c["change"] == "added":
            text.append(f"+ {c['path']}: {json.dumps(c['right'], ensure_ascii=False)}")
        elif c.get("secret"):
            text.append(f"~ {c['path']}: (secret changed)")
        else:
            text.append(
                f"~ {c['path']}: {json.dumps(c['left'], ensure_ascii=False)} -> "
                f"{json.dumps(c['right'], ensure_ascii=False)}"
            )
    emit(args, {"same": not changes, "changes": changes}, "\n".join(text) or "no difference")
    return EXIT_FAILED if changes else EXIT_OK
