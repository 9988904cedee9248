"""soajs.databases: database names, URIs and options, read back by pymongo's own parser."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymongo.uri_parser import parse_uri

from soajs.databases import ResolvedDatabase, resolve_core_db, resolve_tenant_db
from soajs.errors import (
    CoreDatabaseNotFoundError,
    DatabaseConfigError,
    DatabaseNotFoundError,
    SoajsError,
    TenantCodeError,
    TenantDatabaseNotFoundError,
)
from soajs.models.registry import Registry


def _entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "#TENANT_NAME#_orders",
        "prefix": "",
        "servers": [{"host": "127.0.0.1", "port": 27017}],
        "credentials": None,
        "URLParam": {},
        "extraParam": {},
    }
    entry.update(fields)
    return entry


def _registry(tenant: dict[str, Any] | None = None, core: dict[str, Any] | None = None) -> Registry:
    return Registry.model_validate({"tenantMetaDB": tenant or {}, "coreDB": core or {}})


def tenant_db(code: str | None = "TST1", **fields: Any) -> ResolvedDatabase:
    return resolve_tenant_db(_registry({"orders": _entry(**fields)}), "orders", code)


# -- names --------------------------------------------------------------------------


def test_the_real_gateway_registry_resolves(captured_registry: dict[str, Any]) -> None:
    registry = Registry.model_validate(captured_registry)
    db = resolve_tenant_db(registry, "hello_tenant", "TST1")
    assert db.name == "TST1_hello_tenant"
    assert db.kind == "tenant" and db.entry == "hello_tenant" and db.tenant_code == "TST1"
    # useUnifiedTopology is a Node-driver-only option: dropped, as Node SOAJS dropped it
    assert db.uri() == "mongodb://127.0.0.1:27017/"
    assert db.options() == {}
    parsed = parse_uri(db.uri())
    assert parsed["nodelist"] == [("127.0.0.1", 27017)]
    core = resolve_core_db(registry, "hello_core")
    assert core.name == "hello_core" and core.kind == "core"
    # coreDB "session" has no name and no servers: its key is its name; uri() says why not
    session = resolve_core_db(registry, "session")
    assert session.name == "session"
    with pytest.raises(DatabaseConfigError, match="servers is not set"):
        session.uri()


def test_prefix_is_prepended_after_the_tenant_code_replaces_every_pattern() -> None:
    db = tenant_db(prefix="acme_", name="#TENANT_NAME#_orders_#TENANT_NAME#")
    assert db.name == "acme_TST1_orders_TST1"
    assert tenant_db("A-b_9", prefix="").name == "A-b_9_orders"


def test_a_dollar_in_a_tenant_code_is_refused_not_interpreted() -> None:
    with pytest.raises(TenantCodeError):
        tenant_db("A$&B")


def test_a_shared_tenant_database_needs_no_tenant() -> None:
    assert tenant_db(None, name="shared").name == "shared"


@pytest.mark.parametrize("code", [None, ""])
def test_a_tenant_pattern_without_a_tenant_is_a_clear_error(code: str | None) -> None:
    with pytest.raises(TenantCodeError, match="needs the tenant's code") as info:
        tenant_db(code)
    assert isinstance(info.value, DatabaseConfigError) and isinstance(info.value, SoajsError)


@pytest.mark.parametrize(
    "code",
    [
        "a/b",
        "../admin",
        "a?b",
        "a#b",
        "a b",
        "a.b",
        'a"b',
        "a\\b",
        "a$b",
        "a\x00b",
        "a\nb",
        "a%2Fb",
        "a:b",
        "a@b",
        "x" * 64,
        "#TENANT_NAME#",
    ],
)
def test_a_hostile_tenant_code_is_refused(code: str) -> None:
    with pytest.raises(TenantCodeError) as info:
        tenant_db(code)
    assert len(str(info.value)) < 400


def test_a_tenant_code_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TenantCodeError, match="must be a string"):
        tenant_db(123)  # type: ignore[arg-type]


def test_unicode_tenant_codes_work_and_the_uri_does_not_change() -> None:
    db = tenant_db("Ünïcödé")
    assert db.name == "Ünïcödé_orders"
    assert db.uri() == "mongodb://127.0.0.1:27017/"  # the database is not in the URI


@pytest.mark.parametrize("prefix", ["a.b_", "a/b", "a b"])
def test_an_invalid_final_name_is_refused(prefix: str) -> None:
    with pytest.raises(DatabaseConfigError, match="not a valid MongoDB database name"):
        tenant_db(prefix=prefix)


def test_a_name_longer_than_mongodb_allows_is_refused() -> None:
    with pytest.raises(DatabaseConfigError, match="longer than 63 bytes"):
        tenant_db("T" * 60)


def test_unknown_databases_name_what_is_known_and_nothing_secret() -> None:
    registry = _registry(
        {"orders": _entry(credentials={"username": "u", "password": "SECRET-PW"})},
        {"main": _entry(name="main")},
    )
    with pytest.raises(TenantDatabaseNotFoundError) as info:
        resolve_tenant_db(registry, "nosuch", "T1")
    assert isinstance(info.value, DatabaseNotFoundError) and isinstance(info.value, LookupError)
    assert "'nosuch'" in str(info.value) and "orders" in str(info.value)
    assert "SECRET-PW" not in str(info.value)
    with pytest.raises(CoreDatabaseNotFoundError, match="main"):
        resolve_core_db(registry, "orders")  # a tenant database is not a core one
    with pytest.raises(TenantDatabaseNotFoundError):
        resolve_tenant_db(registry, "main", "T1")
    with pytest.raises(DatabaseNotFoundError):
        resolve_core_db(registry, 42)  # type: ignore[arg-type]


def test_the_known_list_is_bounded() -> None:
    registry = _registry({f"db{i:04}": _entry() for i in range(2000)})
    with pytest.raises(TenantDatabaseNotFoundError) as info:
        resolve_tenant_db(registry, "x" * 10_000, "T1")
    assert len(str(info.value)) < 1000


def test_a_core_database_named_after_a_tenant_points_to_tenant_db() -> None:
    registry = _registry(core={"orders": _entry()})
    with pytest.raises(TenantCodeError, match="tenant_db"):
        resolve_core_db(registry, "orders")


def test_a_tenant_entry_without_a_name_is_refused() -> None:
    with pytest.raises(DatabaseConfigError, match="has no name"):
        tenant_db(name=None)


# -- URIs ---------------------------------------------------------------------------

RESERVED = [
    *("p@ss", "p:ss", "p/ss", "p%ss", "p%40", "p?s#s", "p ss", "p+ss", "pässwörd€", "@:/%?#[]")
]


@pytest.mark.parametrize("password", RESERVED)
def test_credentials_with_reserved_characters_survive_pymongo_parsing(password: str) -> None:
    user = "us@r:" + password[:3]
    db = tenant_db(credentials={"username": user, "password": password})
    parsed = parse_uri(db.uri())
    assert parsed["username"] == user and parsed["password"] == password
    assert parsed["nodelist"] == [("127.0.0.1", 27017)]  # the host did not move


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    password=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
)
def test_any_credentials_round_trip_through_pymongo(user: str, password: str) -> None:
    db = tenant_db(credentials={"username": user, "password": password})
    parsed = parse_uri(db.uri())
    assert (parsed["username"], parsed["password"]) == (user, password)
    assert parsed["nodelist"] == [("127.0.0.1", 27017)]


def test_node_uses_credentials_only_when_both_are_set() -> None:
    assert "@" not in tenant_db(credentials={"username": "", "password": "p"}).uri()
    assert "@" not in tenant_db(credentials={"username": "u", "password": ""}).uri()
    assert "@" not in tenant_db(credentials={"username": "u"}).uri()
    x509 = tenant_db(
        credentials={"username": "CN=client,O=acme"}, URLParam={"authMechanism": "MONGODB-X509"}
    )
    assert parse_uri(x509.uri(), validate=False)["username"] == "CN=client,O=acme"


def test_several_servers_ipv6_and_a_unix_socket() -> None:
    db = tenant_db(
        servers=[
            {"host": "db1.example.com", "port": 27017},
            {"host": "::1", "port": "27018"},
            {"host": "[fe80::2]", "port": 27019},
            {"host": "db4"},
        ]
    )
    assert db.hosts() == "db1.example.com:27017,[::1]:27018,[fe80::2]:27019,db4"
    assert parse_uri(db.uri())["nodelist"] == [
        ("db1.example.com", 27017),
        ("::1", 27018),
        ("fe80::2", 27019),
        ("db4", 27017),
    ]
    sock = tenant_db(servers=[{"host": "/tmp/mongodb-27017.sock"}])
    assert parse_uri(sock.uri())["nodelist"] == [("/tmp/mongodb-27017.sock", None)]


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([], "servers is empty"),
        (None, "servers is not set"),
        ([{"port": 27017}], "no host"),
        ([{"host": "", "port": 27017}], "no host"),
        ([{"host": "h", "port": 0}], "1-65535"),
        ([{"host": "h", "port": 70000}], "1-65535"),
        ([{"host": "h", "port": -1}], "1-65535"),
        ([{"host": "evil@h", "port": 1}], "not a host name"),
        ([{"host": "h/x?y#z", "port": 1}], "not a host name"),
        ([{"host": "h,i", "port": 1}], "not a host name"),
        ([{"host": "h:27017:1", "port": 1}], "neither a host name nor an IPv6"),
        ([{"host": "h", "port": 1}] * 300, "at most 256"),
    ],
)
def test_a_bad_servers_entry_is_a_clear_error(servers: Any, message: str) -> None:
    db = tenant_db(servers=servers)
    assert db.name == "TST1_orders"  # the name still reads
    with pytest.raises(DatabaseConfigError, match=message):
        db.uri()
    with pytest.raises(DatabaseConfigError):
        db.hosts()


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (_entry(servers=[{"host": "h", "port": "abc"}]), "servers"),
        (_entry(servers="db1:27017"), "servers"),
        (_entry(servers=[{"host": None}]), "servers"),
        (_entry(credentials="user:pw"), "credentials"),
        (None, "entry"),
        ("mongodb://x", "entry"),
    ],
)
def test_a_malformed_entry_fails_on_its_own_when_resolved(entry: Any, field: str) -> None:
    # one bad entry must not cost the whole registry (the service keeps starting and
    # serving the other databases): it is a clear error when someone resolves it
    registry = _registry({"orders": entry, "users": _entry()})
    assert resolve_tenant_db(registry, "users", "TST1").name
    with pytest.raises(DatabaseConfigError, match=f"'orders' is malformed.*{field}") as err:
        resolve_tenant_db(registry, "orders", "TST1")
    assert "pw" not in str(err.value) and "abc" not in str(err.value)


def test_srv_and_tls_through_protocol(tmp_path: Path) -> None:
    srv = tenant_db(
        protocol="mongodb+srv://",
        servers=[{"host": "cluster0.example.com"}],
        credentials={"username": "u", "password": "p@ss"},
    )
    assert srv.scheme == "mongodb+srv"
    assert srv.uri() == "mongodb+srv://u:p%40ss@cluster0.example.com/"
    assert tenant_db(protocol="MONGODB+SRV", servers=[{"host": "c.example.com"}]).uri() == (
        "mongodb+srv://c.example.com/"
    )
    with pytest.raises(DatabaseConfigError, match="exactly one host"):
        tenant_db(protocol="mongodb+srv", servers=[{"host": "a"}, {"host": "b"}]).uri()
    with pytest.raises(DatabaseConfigError, match="no port"):
        tenant_db(protocol="mongodb+srv", servers=[{"host": "a", "port": 27017}]).uri()
    ca = tmp_path / "ca dir" / "ca&1.pem"
    ca.parent.mkdir()
    ca.write_text("not checked by the parser")
    tls = tenant_db(URLParam={"tls": True, "tlsCAFile": str(ca)})
    options = parse_uri(tls.uri())["options"]
    assert options["tls"] is True and options["tlsCAFile"] == str(ca)


@pytest.mark.parametrize("protocol", ["http://", "mongodb://evil@h/", "file", 42, "mongo"])
def test_an_unknown_protocol_is_refused(protocol: Any) -> None:
    with pytest.raises(DatabaseConfigError, match="protocol"):
        tenant_db(protocol=protocol).uri()


def test_urlparam_wins_over_the_flattened_extraparam() -> None:
    db = tenant_db(
        URLParam={"authSource": "admin", "readPreference": "secondary", "useUnifiedTopology": True},
        extraParam={
            "db": {"authSource": "other", "w": "majority"},
            "server": {"socketOptions": {"connectTimeoutMS": 2000}, "auto_reconnect": True},
            "replSet": {"replicaSet": "rs0", "w": 1},
            "maxPoolSize": 50,
        },
    )
    assert db.options() == {
        "authSource": "admin",
        "readPreference": "secondary",
        "w": "majority",
        "connectTimeoutMS": 2000,
        "replicaSet": "rs0",
        "maxPoolSize": 50,
    }
    options = parse_uri(db.uri())["options"]
    assert options["authSource"] == "admin" and options["replicaSet"] == "rs0"
    assert options["w"] == "majority" and options["maxPoolSize"] == 50
    assert options["connectTimeoutMS"] == 2.0
    # the options dict is the caller's own copy
    db.options()["w"] = 0
    assert db.options()["w"] == "majority"


def test_option_values_are_escaped_and_cannot_inject() -> None:
    db = tenant_db(URLParam={"appname": "a&authSource=evil#x y", "authSource": "ad/min"})
    options = parse_uri(db.uri())["options"]
    assert options["appname"] == "a&authSource=evil#x y"
    assert options["authSource"] == "ad/min"


def test_pair_options_keep_their_separators() -> None:
    db = tenant_db(
        URLParam={
            "readPreference": "nearest",
            "readPreferenceTags": [{"dc": "ny", "rack": "1"}, "dc:sf"],
            "authMechanism": "GSSAPI",
            "authMechanismProperties": {"SERVICE_NAME": "mongo db"},
        },
        credentials={"username": "u@REALM"},
    )
    options = parse_uri(db.uri())["options"]
    assert options["readPreferenceTags"] == [{"dc": "ny", "rack": "1"}, {"dc": "sf"}]
    assert options["authMechanismProperties"]["SERVICE_NAME"] == "mongo db"


@pytest.mark.parametrize(
    "params",
    [
        {"a&b": 1},
        {"": 1},
        {"1abc": 1},
        {"x y": True},
        {"appName": {"nested": 1}},
        {"appName": object()},
    ],
)
def test_a_bad_option_is_a_clear_error(params: dict[str, Any]) -> None:
    db = tenant_db(URLParam=params)
    with pytest.raises(DatabaseConfigError):
        db.uri()


def test_urlparam_that_is_not_an_object_is_refused() -> None:
    db = ResolvedDatabase.model_construct(
        name="x",
        entry="x",
        kind="core",
        url_param=["a"],  # type: ignore[arg-type]
        extra_param=None,
        protocol=None,
    )
    with pytest.raises(DatabaseConfigError, match="must be objects"):
        db.options()


# -- secrets ------------------------------------------------------------------------


def test_the_resolved_database_never_shows_its_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = tenant_db(credentials={"username": "the-user", "password": "S3CRET-p@ss"})
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("db %s %r", db, db)
    shown = [
        repr(db),
        str(db),
        f"{db}",
        db.model_dump_json(),
        json.dumps(db.model_dump(mode="json")),
        repr(db.credentials),
        caplog.text,
        str(db.options()),
        db.fingerprint(),
    ]
    for text in shown:
        assert "S3CRET" not in text and "the-user" not in text
    assert "S3CRET-p%40ss" in db.uri()  # revealed on purpose, there only
    revealed = db.model_dump(context={"reveal_secrets": True})
    assert revealed["credentials"]["password"] == "S3CRET-p@ss"


def test_the_fingerprint_follows_the_connection_not_the_tenant() -> None:
    a = tenant_db("A1", credentials={"username": "u", "password": "one"})
    b = tenant_db("B2", credentials={"username": "u", "password": "one"})
    c = tenant_db("A1", credentials={"username": "u", "password": "two"})
    assert a.location == b.location == ("tenant", "orders")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert len(a.fingerprint()) == 64


def test_resolved_databases_are_frozen() -> None:
    db = tenant_db()
    with pytest.raises(ValueError, match="frozen"):
        db.name = "other"  # type: ignore[misc]


# -- hostile registry values ---------------------------------------------------------

_json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=20)
)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    servers=st.one_of(
        _json,
        st.lists(
            st.fixed_dictionaries(
                {"host": st.one_of(st.text(max_size=30), st.none()), "port": _json_scalar}
            ),
            max_size=4,
        ),
    ),
    url_param=st.one_of(st.none(), st.dictionaries(st.text(max_size=12), _json, max_size=4)),
    extra_param=st.one_of(st.none(), st.dictionaries(st.text(max_size=12), _json, max_size=4)),
    protocol=_json_scalar,
    user=st.text(max_size=10),
    password=st.text(max_size=10),
    code=st.text(max_size=10),
)
def test_hostile_entries_give_a_clear_error_or_a_uri_with_the_same_structure(
    servers: Any,
    url_param: Any,
    extra_param: Any,
    protocol: Any,
    user: str,
    password: str,
    code: str,
) -> None:
    entry = _entry(
        servers=servers,
        URLParam=url_param,
        extraParam=extra_param,
        protocol=protocol,
        credentials={"username": user, "password": password},
    )
    try:
        registry = _registry({"orders": entry})
    except ValueError:  # the registry model refused it (its own, earlier check)
        return
    try:
        db = resolve_tenant_db(registry, "orders", code)
        uri = db.uri()
    except DatabaseConfigError:
        return
    assert db.name.endswith("_orders") and db.tenant_code == code
    parsed = parse_uri(uri, validate=False) if db.scheme == "mongodb" else None
    if parsed is not None:
        expected = [(s.host.strip().strip("[]"), s.port or 27017) for s in db.servers or ()]
        got = [(h.lower(), p) for h, p in parsed["nodelist"]]
        assert len(got) == len(expected)
        if user and password:
            assert (parsed["username"], parsed["password"]) == (user, password)
        options = db.options()
        assert set(k.lower() for k in parsed["options"]) <= set(k.lower() for k in options)
