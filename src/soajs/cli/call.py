"""``soajs call SERVICE PATH``: one call through the ServiceConnector, as ``dapr invoke`` does.

Routing is the library's own: with ``--inject`` (a ``soajsinjectobj`` value)
the call is made as inside that request (mesh-direct when its
``awareness.interConnect`` lists the service, else through the gateway with
the tenant key); without it, through the gateway that the registry names
(``--registry-api``/``--env``/``--service`` or ``--file``; or ``--gateway
HOST:PORT``) with ``--key`` as the tenant key.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from soajs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common,
    emit,
    fail,
    read_value,
    seconds,
)
from soajs.cli.registry import add_source_options, load_registry

__all__ = ["add_parser"]

# a service name is one path segment of the gateway route: no '/', no '..'
_SERVICE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def add_parser(sub: Any) -> None:
    call = sub.add_parser(
        "call",
        help="one call to another service through the ServiceConnector",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    add_common(call)
    call.add_argument("target", metavar="SERVICE", help="the service to call")
    call.add_argument("path", metavar="PATH", help="the path on that service, e.g. /whoami")
    call.add_argument("-X", "--method", default="GET")
    call.add_argument("--service-version", help="the version of the service to call")
    call.add_argument("-d", "--data", help="request body ('-': stdin); JSON is sent as JSON")
    call.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE")
    call.add_argument("--key", help="the tenant's external key (gateway route)")
    call.add_argument("--inject", metavar="HEADER", help="call as inside this request")
    call.add_argument("--gateway", metavar="HOST:PORT", help="the gateway, instead of a registry")
    call.add_argument("--deadline", type=seconds, default=30.0, help="seconds for the whole call")
    add_source_options(call)
    call.set_defaults(func=_call)


class _Gateway:
    def __init__(self, host: str, port: int) -> None:
        from soajs.models.registry import Awareness

        self.awareness = Awareness(host=host, port=port)


def _call(args: argparse.Namespace) -> int:
    import httpx

    from soajs.connector import ServiceConnector
    from soajs.connector.errors import ConnectorError
    from soajs.context import parse_inject_header

    if not _SERVICE_NAME.fullmatch(args.target) or set(args.target) == {"."}:
        fail(f"SERVICE must be a service name (letters, digits, - _ .), got {args.target!r}", 2)
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail(f"--header must be NAME:VALUE, got {item!r}", EXIT_USAGE)
        headers[name.strip()] = value.strip()
    context = None
    if args.inject is not None:
        raw = read_value(args.inject, "--inject")
        result = parse_inject_header([raw], 1 << 20)
        if result.context is None:
            fail(f"--inject is refused: {result.reason.value} {result.detail}".rstrip(), 2)
        context = result.context.bind(None, raw)  # the bytes a mesh call forwards
    source: Any = None
    if context is None:
        if args.gateway:
            host, _, port = args.gateway.rpartition(":")
            if not host or not port.isdigit():
                fail(f"--gateway must be HOST:PORT, got {args.gateway!r}", EXIT_USAGE)
            source = _Gateway(host, int(port))
        else:
            source = load_registry(args)
    kwargs: dict[str, Any] = {"headers": headers, "deadline": args.deadline}
    if args.data is not None:
        body = read_value(args.data, "--data")
        try:
            kwargs["json"] = json.loads(body)
        except ValueError:
            kwargs["content"] = body
    connector = ServiceConnector(context, registry=source, tenant_key=args.key)
    try:
        response = connector.request(
            args.target, args.method.upper(), args.path, args.service_version, **kwargs
        )
    except ConnectorError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"call failed: {exc}")
    try:
        body_out: Any = response.json()
    except ValueError:
        body_out = response.text
    data = {"status": response.status_code, "headers": dict(response.headers), "body": body_out}
    text = body_out if isinstance(body_out, str) else json.dumps(body_out, indent=2)
    sys.stderr.write(f"HTTP {response.status_code} from {response.request.url}\n")
    emit(args, data, text)
    return EXIT_OK if response.is_success else EXIT_FAILED
