"""``soajsinjectobj`` headers shaped exactly as the SOAJS gateway builds them.

Gateway 4.3.4 (``soajs.controller``, ``mw/mt/index.js``) builds the object in
this order and sends ``JSON.stringify`` of it: compact, keys in insertion
order, non-ASCII characters as raw UTF-8, ``undefined`` members left out:

* ``tenant`` ``{id, name, code, locked, roaming?, type, main?, profile?}``
  (``profile`` only when the service registered ``tenant_Profile``);
* ``key`` ``{config, iKey, eKey}``: ``config`` holds the key's
  ``commonFields`` plus this service's own entry (and those of the services
  it interconnects with);
* ``application`` ``{product, package, appId, acl?, acl_all_env?}`` and
  ``package`` ``{acl?, acl_all_env?}``: the ACLs only when the service
  registered ``provision_ACL`` (else ``package`` is ``{}``);
* ``device`` (the client's user agent) and ``geo`` (``{"ip": ...}``);
* ``urac`` when a user is logged in: ``{_id, username, firstName, lastName,
  email, groups, socialLogin?, tenant{id, code}, profile?, acl?, acl_AllEnv?,
  config?, groupsConfig?}`` with ``firstName``/``lastName``
  ``encodeURIComponent``-ed, and then ``param {urac_Profile, urac_ACL}``;
* ``awareness`` ``{host, port, interConnect?[{name, version, host, port,
  latest}]}``.

Every builder takes keyword arguments with defaults matching a header
captured from a real gateway 4.3.4 (tenant ``TST1``, product ``HELLO``),
so ``make_inject_header()`` alone is a realistic header and a test names
only what it cares about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from soajs.models import ContextData

__all__ = [
    "DEFAULT_EKEY",
    "DEFAULT_IKEY",
    "encode_inject_object",
    "make_acl",
    "make_context",
    "make_inject_header",
    "make_inject_object",
    "make_interconnect",
    "make_urac",
]

DEFAULT_TENANT_ID = "5f0a1b2c3d4e5f6a7b8c9d01"
DEFAULT_APP_ID = "5f0a1b2c3d4e5f6a7b8c9d02"
DEFAULT_IKEY = "0123456789abcdef0123456789abcdef"
#: An external key of the captured shape (not a working key anywhere).
DEFAULT_EKEY = "28df214c0987773dbaa24b18937e7c8a" * 5

_UNSET: Any = object()


def encode_uri_component(value: Any) -> str:
    """JavaScript's ``encodeURIComponent(String(value))`` (``null``/``undefined`` -> ``""``)."""
    if value is None:
        return ""
    return quote(str(value), safe="-_.!~*'()")


def make_acl(
    service: str = "hello",
    version: str = "1",
    *,
    get: Sequence[str] = ("/whoami",),
    post: Sequence[str] = (),
    access: bool = False,
    group: str = "Hello",
    env: str | None = None,
) -> dict[str, Any]:
    """A package/application ACL for one service version, as the gateway stores it.

    With ``env``, the ``acl_all_env`` shape (``{env: {service: ...}}``).
    """
    entry: dict[str, Any] = {"access": access, "apisPermission": "unrestricted"}
    for method, paths in (("get", get), ("post", post)):
        if paths:
            entry[method] = [{"group": group, "apis": {p: {"access": access} for p in paths}}]
    acl = {service: {version: entry}}
    return {env: acl} if env is not None else acl


def make_interconnect(
    name: str,
    version: str | None = "1",
    *,
    host: str = "127.0.0.1",
    port: int = 4381,
    latest: str | None = _UNSET,
) -> dict[str, Any]:
    """One ``awareness.interConnect`` entry; ``latest`` defaults to ``version``."""
    entry: dict[str, Any] = {"name": name, "version": version, "host": host, "port": port}
    latest = version if latest is _UNSET else latest
    if latest is not None:
        entry["latest"] = latest
    return entry


def make_urac(
    *,
    id: str = "5f0a1b2c3d4e5f6a7b8c9d10",
    username: str = "owner",
    first_name: str | None = "Test",
    last_name: str | None = "Owner",
    email: str = "owner@localhost",
    groups: Sequence[str] = ("owner",),
    tenant_id: str = DEFAULT_TENANT_ID,
    tenant_code: str = "TST1",
    social_login: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    acl: Mapping[str, Any] | None = None,
    acl_all_env: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    groups_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``urac`` member (a logged-in user), names percent-encoded as the gateway does.

    The optional parts (``profile``, ``acl``...) are left out when ``None``,
    as the gateway leaves them out when the service did not ask for them.
    """
    urac: dict[str, Any] = {
        "_id": id,
        "username": username,
        "firstName": encode_uri_component(first_name),
        "lastName": encode_uri_component(last_name),
        "email": email,
        "groups": list(groups),
    }
    if social_login is not None:
        urac["socialLogin"] = dict(social_login)
    urac["tenant"] = {"id": tenant_id, "code": tenant_code}
    for key, value in (
        ("profile", profile),
        ("acl", acl),
        ("acl_AllEnv", acl_all_env),
        ("config", config),
        ("groupsConfig", groups_config),
    ):
        if value is not None:
            urac[key] = dict(value)
    return urac


def make_inject_object(
    *,
    tenant_id: str = DEFAULT_TENANT_ID,
    tenant_code: str = "TST1",
    tenant_name: str | None = "Test Tenant One",
    tenant_type: str | None = "product",
    locked: bool | None = False,
    roaming: Any = None,
    main_tenant: Mapping[str, Any] | None = None,
    tenant_profile: Mapping[str, Any] | None = None,
    ikey: str = DEFAULT_IKEY,
    ekey: str = DEFAULT_EKEY,
    services_config: Mapping[str, Any] | None = None,
    product: str = "HELLO",
    package: str = "HELLO_BASIC",
    app_id: str = DEFAULT_APP_ID,
    provision_acl: bool = True,
    application_acl: Mapping[str, Any] | None = None,
    application_acl_all_env: Mapping[str, Any] | None = None,
    package_acl: Mapping[str, Any] | None = _UNSET,
    package_acl_all_env: Mapping[str, Any] | None = _UNSET,
    device: Any = "python-httpx/0.28.1",
    geo: Any = _UNSET,
    urac: Mapping[str, Any] | None = None,
    urac_profile: bool = False,
    urac_acl: bool = False,
    param: Mapping[str, Any] | None = None,
    awareness: bool = True,
    awareness_host: str | None = "127.0.0.1",
    awareness_port: int = 4000,
    interconnect: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The inject object (a dict in the gateway's member order); see ``make_inject_header``."""
    tenant: dict[str, Any] = {"id": tenant_id, "name": tenant_name, "code": tenant_code}
    tenant["locked"] = locked
    if roaming is not None:
        tenant["roaming"] = roaming
    tenant["type"] = tenant_type
    tenant = {k: v for k, v in tenant.items() if v is not None or k in ("id", "code")}
    if main_tenant is not None:
        tenant["main"] = dict(main_tenant)
    if tenant_profile is not None:
        tenant["profile"] = dict(tenant_profile)
    config = {"hello": {}} if services_config is None else dict(services_config)
    obj: dict[str, Any] = {
        "tenant": tenant,
        "key": {"config": config, "iKey": ikey, "eKey": ekey},
        "application": {"product": product, "package": package, "appId": app_id},
        "package": {},
    }
    if provision_acl:
        obj["application"]["acl"] = application_acl
        obj["application"]["acl_all_env"] = application_acl_all_env
        acl = make_acl() if package_acl is _UNSET else package_acl
        if package_acl_all_env is _UNSET:  # as captured: the package ACL under the env code
            package_acl_all_env = None if acl is None else {"dev": acl}
        obj["package"] = {"acl": acl, "acl_all_env": package_acl_all_env}
    if device is not None:
        obj["device"] = device
    geo = {"ip": "127.0.0.1"} if geo is _UNSET else geo
    if geo is not None:
        obj["geo"] = geo
    if urac is not None:
        obj["urac"] = dict(urac)
        obj["param"] = {"urac_Profile": urac_profile, "urac_ACL": urac_acl}
    if param is not None:
        obj["param"] = {**obj.get("param", {}), **param}
    if awareness:
        aware: dict[str, Any] = {"host": awareness_host, "port": awareness_port}
        if interconnect:
            aware["interConnect"] = [dict(entry) for entry in interconnect]
        obj["awareness"] = aware
    return obj


def encode_inject_object(obj: Mapping[str, Any], *, percent_encoded: bool = False) -> str:
    """``JSON.stringify(obj)`` as the gateway sends it; ``percent_encoded`` gives the
    ``encodeURIComponent`` form some proxies deliver (the parser accepts both)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return encode_uri_component(text) if percent_encoded else text


def make_inject_header(*, percent_encoded: bool = False, **fields: Any) -> str:
    """A ``soajsinjectobj`` header value, as gateway 4.3.4 builds it.

    Keyword arguments (all optional) name the parts of the header:

    tenant
        ``tenant_id``, ``tenant_code``, ``tenant_name``, ``tenant_type``,
        ``locked``, ``roaming``, ``main_tenant`` (``{id, code}``),
        ``tenant_profile``.
    key
        ``ikey``, ``ekey``, ``services_config`` (``key.config``: service name
        -> its config; default ``{"hello": {}}``).
    application and package
        ``product``, ``package``, ``app_id``; ``provision_acl`` (default
        true; false gives ``package: {}`` and no ``application.acl``),
        ``application_acl``, ``application_acl_all_env``, ``package_acl``
        (default ``make_acl``), ``package_acl_all_env`` (default
        ``{"dev": package_acl}``, as captured).
    request
        ``device`` (user agent string or object), ``geo`` (default
        ``{"ip": "127.0.0.1"}``; ``None`` leaves it out).
    user
        ``urac`` (build it with ``make_urac``), ``urac_profile``,
        ``urac_acl`` (the ``param`` flags that come with it), ``param``.
    awareness
        ``awareness_host``, ``awareness_port`` (the gateway; default
        127.0.0.1:4000), ``interconnect`` (entries from
        ``make_interconnect``), ``awareness=False`` to leave it out.

    ``percent_encoded=True`` returns the percent-encoded variant. The value
    is a ``str`` that may hold non-ASCII characters: send it as UTF-8 bytes
    (the clients of ``soajs.testing`` do).
    """
    return encode_inject_object(make_inject_object(**fields), percent_encoded=percent_encoded)


def make_context(
    registry: Any = None, *, percent_encoded: bool = False, **fields: Any
) -> ContextData:
    """The ``ContextData`` a service would get from
    ``make_inject_header(**fields)``: parsed by the library's own core and bound
    like the middleware binds it (``context.registry`` reads ``registry``, a
    mesh call forwards the header's exact bytes). For unit tests of code that
    takes a context (``ServiceConnector(context)``, handlers)."""
    from soajs.context import parse_inject_header

    raw = make_inject_header(percent_encoded=percent_encoded, **fields).encode("utf-8")
    result = parse_inject_header([raw], max(65536, len(raw)))
    if result.context is None:
        raise ValueError(f"the header would be refused: {result.reason.value} {result.detail}")
    return result.context.bind(registry, raw)
