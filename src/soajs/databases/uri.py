"""The MongoDB connection URI of a registry database entry, built safely.

What Node SOAJS does (``soajs.mongo`` ``constructMongoLink`` and
``constructMongoOptions``), and where this differs on purpose:

* **Scheme.** ``protocol`` or ``mongodb://``. Here ``mongodb`` and
  ``mongodb+srv``, with or without ``://``, any case; anything else is refused
  (Node pasted any string in front of the hosts).
* **Credentials.** Node writes ``username:password@`` as they are, so a
  password with ``@``, ``:``, ``/`` or ``%`` breaks the URL (or points it at
  another host). Here both are percent-escaped (RFC 3986,
  ``urllib.parse.quote(..., safe="")``, UTF-8), which every driver decodes.
  As in Node they are used only when both are non-empty; a username alone is
  kept when an ``authMechanism`` that needs no password (X.509, AWS, GSSAPI,
  OIDC) is set.
* **Hosts.** ``servers`` ``[{host, port}]`` joined by commas, as in Node, but
  checked: a missing or empty list, a host that is empty or holds URI
  delimiters, a port outside 1-65535 raise
  :class:`~soajs.errors.DatabaseConfigError`. IPv6 literals are bracketed; a
  Unix socket path (``/tmp/mongodb-27017.sock``) is percent-escaped.
  ``mongodb+srv`` takes exactly one host and no port.
* **Options.** ``URLParam``, then ``extraParam`` flattened (nested objects
  searched depth first, as Node's ``flatternObject``) for the names URLParam
  does not set: URLParam wins. Node then passed them to the driver as
  keyword options; here they are also written in the URI's query (escaped), so
  ``MongoClient(db.uri())`` alone is complete. Options no current driver
  knows (``KNOWN_OPTIONS``: the old Node driver's ``useUnifiedTopology``,
  ``native_parser``, ``keepAlive``, ``auto_reconnect``, ``slaveOk``...) are
  dropped; ``maxPoolSize`` and
  ``wtimeoutMS``, which Node dropped too, are kept (they are valid for every
  current driver).
* **No database in the path.** As in Node the URI has no ``/database``: a
  driver then authenticates against ``admin`` unless ``authSource`` is set
  (putting the database there would change the authentication database).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from soajs.errors import DatabaseConfigError
from soajs.models._masked import is_secret_name

__all__ = [
    "KNOWN_OPTIONS",
    "LEGACY_OPTIONS",
    "build_uri",
    "driver_options",
    "format_hosts",
    "merge_options",
    "scheme_of",
    "userinfo",
]

#: Options of the old Node driver that Node SOAJS removed or that no current driver
#: knows; dropped from ``URLParam``/``extraParam`` (case-insensitive).
LEGACY_OPTIONS = frozenset(
    name.lower()
    for name in (
        "useUnifiedTopology",
        "useNewUrlParser",
        "useCreateIndex",
        "useFindAndModify",
        "auto_reconnect",
        "autoReconnect",
        "slaveOk",
        "poolSize",
        "bufferMaxEntries",
        "reconnectTries",
        "reconnectInterval",
        "promiseLibrary",
    )
)

#: The connection options a current MongoDB driver knows (the connection-string
#: spec's, plus pymongo's own), lower-cased. Any other name (the old Node driver's
#: ``native_parser``, ``keepAlive``, ``ha``, ``socketOptions``... that SOAJS
#: registries carry in ``extraParam``) is dropped: pymongo ignores it in a URI with
#: a warning, and refuses it as a keyword argument.
KNOWN_OPTIONS = frozenset(
    name.lower()
    for name in (
        "appName", "authMechanism", "authMechanismProperties", "authSource", "compressors",
        "connectTimeoutMS", "directConnection", "heartbeatFrequencyMS", "journal",
        "loadBalanced", "localThresholdMS", "maxIdleTimeMS", "maxPoolSize", "maxConnecting",
        "maxStalenessSeconds", "minPoolSize", "proxyHost", "proxyPort", "proxyUsername",
        "proxyPassword", "readConcernLevel", "readPreference", "readPreferenceTags",
        "replicaSet", "retryReads", "retryWrites", "serverMonitoringMode",
        "serverSelectionTimeoutMS", "serverSelectionTryOnce", "socketTimeoutMS",
        "srvMaxHosts", "srvServiceName", "ssl", "timeoutMS", "tls",
        "tlsAllowInvalidCertificates", "tlsAllowInvalidHostnames", "tlsCAFile",
        "tlsCertificateKeyFile", "tlsCertificateKeyFilePassword",
        "tlsDisableCertificateRevocationCheck", "tlsDisableOCSPEndpointCheck", "tlsInsecure",
        "w", "waitQueueTimeoutMS", "wTimeoutMS", "zlibCompressionLevel", "uuidRepresentation",
        # pymongo's own
        "datetime_conversion", "tz_aware", "unicode_decode_error_handler", "fsync",
        "waitQueueMultiple", "srvAllowedHostsSuffix", "maxAdaptiveRetries",
        "enableOverloadRetargeting",
    )
)  # fmt: skip

#: Authentication mechanisms that take a username without a password.
_PASSWORDLESS = frozenset({"mongodb-x509", "mongodb-aws", "gssapi", "mongodb-oidc"})

#: Options whose value keeps ``,`` and ``:`` as separators (``k:v,k:v``).
_PAIR_OPTIONS = frozenset({"readpreferencetags", "authmechanismproperties"})

_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})")
_MAX_SERVERS = 256
_MAX_OPTIONS = 256
_MAX_DEPTH = 8

_SCHEMES = {"mongodb": "mongodb", "mongodb+srv": "mongodb+srv"}


def scheme_of(protocol: Any) -> str:
    """``mongodb`` or ``mongodb+srv`` from a registry ``protocol`` (default ``mongodb``)."""
    if protocol is None or protocol == "":
        return "mongodb"
    if isinstance(protocol, str):
        text = protocol.strip().lower()
        text = text.removesuffix("://")
        if text in _SCHEMES:
            return _SCHEMES[text]
    raise DatabaseConfigError(
        f"protocol must be 'mongodb://' or 'mongodb+srv://', got {_show(protocol)}"
    )


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show_host(host: str) -> str:
    # a host written with credentials in it ("user:pass@db1") shows no credentials
    if "@" in host:
        return _show("<hidden>@" + host.rsplit("@", 1)[1])
    return _show(host)


def _secret_option(key: str) -> bool:
    return is_secret_name(key) or key.lower() == "authmechanismproperties"


def _host(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DatabaseConfigError(f"a servers entry has no host (got {_show(value)})")
    host: str = value.strip()
    if host.endswith(".sock") and host.startswith("/"):
        return quote(host, safe="")  # a Unix domain socket
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in literal:
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise DatabaseConfigError(
                f"servers host {_show_host(host)} is neither a host name nor an IPv6 address "
                "(give the port in 'port')"
            ) from None
        return f"[{address.compressed}]"
    if _HOST_NAME.fullmatch(host) is None:
        raise DatabaseConfigError(
            f"servers host {_show_host(host)} is not a host name (letters, digits, '.', '-', '_')"
        )
    return host


def _port(port: Any) -> int | None:
    if port is None or port == "":
        return None
    if isinstance(port, bool):
        raise DatabaseConfigError(f"servers port must be a number, got {_show(port)}")
    if isinstance(port, str) and port.strip().isdecimal():
        port = int(port.strip())
    if isinstance(port, float) and port.is_integer():
        port = int(port)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise DatabaseConfigError(f"servers port must be in 1-65535, got {_show(port)}")
    return port


def _entry(server: Any) -> tuple[Any, Any]:
    if isinstance(server, Mapping):
        return server.get("host"), server.get("port")
    if hasattr(server, "host"):
        return server.host, getattr(server, "port", None)
    raise DatabaseConfigError(
        f"a servers entry must be an object {{host, port}}, got {_show(server)}"
    )


def format_hosts(servers: Any, scheme: str = "mongodb") -> str:
    """``host:port,host:port`` from ``servers``; raises on a bad or empty list."""
    if servers is None:
        raise DatabaseConfigError("servers is not set: the database has no host")
    if isinstance(servers, str | bytes) or not isinstance(servers, Sequence):
        raise DatabaseConfigError(
            f"servers must be a list of {{host, port}}, got {type(servers).__name__}"
        )
    if not servers:
        raise DatabaseConfigError("servers is empty: the database has no host")
    if len(servers) > _MAX_SERVERS:
        raise DatabaseConfigError(f"servers lists {len(servers)} hosts (at most {_MAX_SERVERS})")
    parts = []
    for server in servers:
        host, port = _entry(server)
        name, number = _host(host), _port(port)
        if name.startswith("%2F"):  # a Unix socket path: a port means nothing there
            number = None
        parts.append(name if number is None else f"{name}:{number}")
    if scheme == "mongodb+srv":
        if len(parts) != 1:
            raise DatabaseConfigError(
                f"mongodb+srv takes exactly one host (the SRV name), got {len(parts)}"
            )
        if ":" in parts[0] and not parts[0].startswith("["):
            raise DatabaseConfigError("mongodb+srv takes a host name with no port")
        if not _is_dns_name(parts[0]):
            raise DatabaseConfigError(
                "mongodb+srv takes a DNS name (the SRV record's), not an IP address or a socket"
            )
    return ",".join(parts)


def _is_dns_name(host: str) -> bool:
    if host.startswith(("[", "%2F")):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def _flatten(params: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[str, Any]]:
    for key, value in params.items():
        if isinstance(value, Mapping):
            if depth < _MAX_DEPTH:
                yield from _flatten(value, depth + 1)
        else:
            yield str(key), value


def merge_options(url_param: Any, extra_param: Any) -> dict[str, Any]:
    """The driver options: ``URLParam``, then the flattened ``extraParam`` for names
    URLParam does not set (names compared case-insensitively); legacy options dropped."""
    merged: dict[str, Any] = {}
    seen: set[str] = set()
    for source, flat in ((url_param, False), (extra_param, True)):
        if source is None:
            continue
        if not isinstance(source, Mapping):
            raise DatabaseConfigError(
                f"URLParam and extraParam must be objects, got {type(source).__name__}"
            )
        items = _flatten(source) if flat else ((str(k), v) for k, v in source.items())
        for key, value in items:
            lowered = key.lower()
            if lowered in seen or lowered in LEGACY_OPTIONS or value is None:
                continue
            if _OPTION_NAME.fullmatch(key) is None:
                raise DatabaseConfigError(f"{_show(key)} is not a MongoDB option name")
            if lowered not in KNOWN_OPTIONS:
                continue
            seen.add(lowered)
            merged[key] = value
            if len(merged) > _MAX_OPTIONS:
                raise DatabaseConfigError(f"more than {_MAX_OPTIONS} connection options")
    return merged


def _scalar(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise DatabaseConfigError(f"option {key} is not a finite number")
    if isinstance(value, int | float | str):
        return str(value)
    shown = "a value" if _secret_option(key) else f"value {_show(value)}"
    raise DatabaseConfigError(f"option {key}: {shown} is not a string, number or boolean")


def _pairs(value: Any, key: str) -> str:
    if not isinstance(value, Mapping):
        # a ready "k:v,k:v" string: keep its separators, escape the rest
        return quote(_scalar(value, key), safe=",:")
    if key.lower() != "authmechanismproperties":  # pymongo splits, then unescapes
        return ",".join(
            f"{quote(str(k), safe='')}:{quote(_scalar(v, key), safe='')}" for k, v in value.items()
        )
    # pymongo unescapes authMechanismProperties first, then splits on ',' and the
    # first ':': a ',' anywhere or a ':' in a name cannot be written (values unshown:
    # a session token is a secret)
    items = []
    for name, item in value.items():
        text = _scalar(item, key)
        if any(c in str(name) for c in ",:") or "," in text:
            raise DatabaseConfigError(
                f"option {key}: property {_show(str(name), 40)} cannot be written in a URI "
                "(',' in a name or value, or ':' in a name)"
            )
        items.append(f"{name!s}:{text}")
    return quote(",".join(items), safe=",:")


def driver_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as pymongo's keyword arguments take them: ``readPreferenceTags``
    as a list of ``k:v,k:v`` strings (escaped as in the URI; pymongo unescapes them),
    the rest unchanged."""
    result = dict(options)
    for key, value in options.items():
        if key.lower() == "readpreferencetags":
            values = value if isinstance(value, list | tuple) else [value]
            result[key] = [_pairs(item, key) for item in values]
    return result


def query(options: Mapping[str, Any]) -> str:
    """The URI query (``a=1&b=x``) of ``options``, each value escaped."""
    parts: list[str] = []
    for key, value in options.items():
        pairs = key.lower() in _PAIR_OPTIONS
        if isinstance(value, list | tuple) and key.lower() != "readpreferencetags":
            raise DatabaseConfigError(f"option {key} takes one value, got a list")
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = _pairs(item, key) if pairs else quote(_scalar(item, key), safe="")
            parts.append(f"{key}={text}")
    return "&".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return ""
    reveal = getattr(value, "get_secret_value", None)
    text = reveal() if callable(reveal) else value
    if not isinstance(text, str):
        text = str(text)
    return text


def userinfo(username: Any, password: Any, options: Mapping[str, Any]) -> str:
    """``user:password@`` escaped, ``user@``, or ``""`` (see the module docstring)."""
    user, secret = _text(username), _text(password)
    if not user:
        return ""
    if secret:
        return f"{quote(user, safe='')}:{quote(secret, safe='')}@"
    mechanism = next((v for k, v in options.items() if k.lower() == "authmechanism"), None)
    if isinstance(mechanism, str) and mechanism.lower() in _PASSWORDLESS:
        return f"{quote(user, safe='')}@"
    return ""


def build_uri(scheme: str, hosts: str, credentials: str, options: Mapping[str, Any]) -> str:
    """``scheme://credentials hosts/?options`` (the pieces come from this module)."""
    text = query(options)
    return f"{scheme}://{credentials}{hosts}/" + (f"?{text}" if text else "")
