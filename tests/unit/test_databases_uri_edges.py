"""Red-team edges of the MongoDB URI: every URI built is read back by pymongo's own
parser as exactly what was meant, and what cannot be written is a clear library error."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from pymongo.uri_parser import parse_uri

from soajs.databases import resolve_tenant_db
from soajs.databases.model import fingerprint_of
from soajs.errors import DatabaseConfigError
from soajs.models.registry import Registry


def _db(**fields: Any) -> Any:
    entry: dict[str, Any] = {"name": "#TENANT_NAME#_orders", "servers": [{"host": "h"}]}
    entry.update(fields)
    registry = Registry.model_validate({"tenantMetaDB": {"orders": entry}})
    return resolve_tenant_db(registry, "orders", "T1")


def _parse(uri: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate or unknown option is a failure here
        parsed: dict[str, Any] = parse_uri(uri)
        return parsed


def test_a_unix_socket_with_a_port_gives_a_uri_pymongo_reads() -> None:
    # The SOAJS console always stores a port; a socket path has none.
    db = _db(servers=[{"host": "/tmp/mongodb-27017.sock", "port": 27017}])
    assert _parse(db.uri())["nodelist"] == [("/tmp/mongodb-27017.sock", None)]


@pytest.mark.parametrize("name", ["w", "appname", "maxPoolSize"])
def test_a_list_for_an_option_that_takes_one_value_is_refused(name: str) -> None:
    db = _db(URLParam={name: [1, 2]})
    with pytest.raises(DatabaseConfigError, match=name):
        db.uri()


def test_read_preference_tags_may_repeat() -> None:
    db = _db(URLParam={"readPreference": "nearest", "readPreferenceTags": [{"dc": "n,y"}, {}]})
    assert _parse(db.uri())["options"]["readPreferenceTags"] == [{"dc": "n,y"}, {}]


def test_auth_mechanism_properties_round_trip_through_pymongo() -> None:
    token = "IQoJb3/Jp+ZX=="  # base64: '/', '+', '='
    db = _db(
        credentials={"username": "AKIA", "password": "s"},
        URLParam={
            "authMechanism": "MONGODB-AWS",
            "authMechanismProperties": {"AWS_SESSION_TOKEN": token},
        },
    )
    props = _parse(db.uri())["options"]["authMechanismProperties"]
    assert props == {"AWS_SESSION_TOKEN": token}


@pytest.mark.parametrize(
    "properties",
    [{"AWS_SESSION_TOKEN": "a,b"}, {"SERVICE:NAME": "x"}, {"A,B": "x"}],
)
def test_auth_mechanism_properties_pymongo_cannot_read_are_refused(
    properties: dict[str, str],
) -> None:
    db = _db(URLParam={"authMechanism": "GSSAPI", "authMechanismProperties": properties})
    with pytest.raises(DatabaseConfigError) as caught:
        db.uri()
    assert "a,b" not in str(caught.value)  # a property value may be a secret (a token)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_is_refused(value: float) -> None:
    with pytest.raises(DatabaseConfigError, match="maxIdleTimeMS"):
        _db(URLParam={"maxIdleTimeMS": value}).uri()


@pytest.mark.parametrize("host", ["::1", "[::1]", "/tmp/mongodb-27017.sock", "10.0.0.1"])
def test_srv_needs_a_host_name(host: str) -> None:
    db = _db(protocol="mongodb+srv", servers=[{"host": host}])
    with pytest.raises(DatabaseConfigError, match="srv"):
        db.uri()


def test_the_fingerprint_is_not_a_bare_hash_of_the_secret_uri() -> None:
    # A plain SHA-256 of the URI lets whoever sees a fingerprint try passwords offline.
    import hashlib

    db = _db(credentials={"username": "u", "password": "weak"})
    assert db.fingerprint() != hashlib.sha256(db.uri().encode()).hexdigest()
    assert db.fingerprint() == fingerprint_of(db.uri())  # stable within the process


@pytest.mark.parametrize(
    "params",
    [
        {"readPreference": "nearest", "readPreferenceTags": [{"dc": "n y", "rack": "1+2"}, {}]},
        {"readPreference": "nearest", "readPreferenceTags": {"dc": "ny"}},
        {"readPreference": "nearest", "readPreferenceTags": "dc:ny,rack:1"},
        {
            "authMechanism": "MONGODB-AWS",
            "authMechanismProperties": {"AWS_SESSION_TOKEN": "t/k+n="},
        },
        {"w": "majority", "wtimeoutMS": 100, "maxPoolSize": "10", "appname": "a b&c"},
    ],
)
def test_options_as_keyword_arguments_give_the_client_the_uri_gives(
    params: dict[str, Any],
) -> None:
    from pymongo import MongoClient

    db = _db(servers=[{"host": "h", "port": 1}], URLParam=params)
    by_uri: MongoClient[Any] = MongoClient(db.uri(), connect=False)
    by_kwargs: MongoClient[Any] = MongoClient("mongodb://h:1/", connect=False, **db.options())
    try:
        assert by_kwargs.options.read_preference == by_uri.options.read_preference
        assert by_kwargs.options.write_concern == by_uri.options.write_concern
        assert by_kwargs.options.pool_options.metadata == by_uri.options.pool_options.metadata
        assert by_kwargs.options.pool_options.max_pool_size == 10 or "maxPoolSize" not in params
        uri_credentials = by_uri.options.pool_options._credentials
        kwargs_credentials = by_kwargs.options.pool_options._credentials
        assert (uri_credentials is None) == (kwargs_credentials is None)
        if uri_credentials is not None and kwargs_credentials is not None:
            assert uri_credentials.mechanism_properties == kwargs_credentials.mechanism_properties
    finally:
        by_uri.close()
        by_kwargs.close()


def test_options_refuse_what_the_uri_refuses() -> None:
    db = _db(URLParam={"w": [1, 2]})
    with pytest.raises(DatabaseConfigError):
        db.options()


def test_secret_options_are_masked_like_the_credentials() -> None:
    import json

    db = _db(
        URLParam={"tlsCertificateKeyFilePassword": "KEYPASS", "authSource": "admin"},
        extraParam={
            "db": {"authMechanismProperties": "AWS_SESSION_TOKEN:SESSIONTOK"},
            "AWS_SESSION_TOKEN": "ALSOTOK",
        },
    )
    shown = [
        repr(db),
        str(db),
        f"{db}",
        db.model_dump_json(),
        db.model_dump_json(by_alias=True),
        json.dumps(db.model_dump(mode="json")),
        str(db.model_dump()),
    ]
    for text in shown:
        assert "KEYPASS" not in text and "SESSIONTOK" not in text and "ALSOTOK" not in text
        assert "admin" in text  # what is not a secret stays readable
    revealed = db.model_dump(context={"reveal_secrets": True}, by_alias=True)
    assert revealed["URLParam"]["tlsCertificateKeyFilePassword"] == "KEYPASS"
    assert "KEYPASS" in db.uri() and db.options()["tlsCertificateKeyFilePassword"] == "KEYPASS"


@pytest.mark.parametrize(
    "fields",
    [
        {"servers": [{"host": "admin:HUNTER2@db1", "port": 27017}]},
        {"servers": [{"host": "mongodb://admin:HUNTER2@db1"}]},
        {"URLParam": {"tlsCertificateKeyFilePassword": ["HUNTER2"]}},
        {"URLParam": {"tlsCertificateKeyFilePassword": {"a": "HUNTER2"}}},
        {"URLParam": {"authMechanismProperties": {"AWS_SESSION_TOKEN": ["HUNTER2"]}}},
        {"URLParam": {"proxyPassword": ["HUNTER2"], "appName": "x"}},
    ],
)
def test_errors_never_show_a_secret_written_in_the_wrong_place(fields: dict[str, Any]) -> None:
    db = _db(**fields)
    with pytest.raises(DatabaseConfigError) as caught:
        db.uri()
    assert "HUNTER2" not in str(caught.value) and "HUNTER2" not in repr(caught.value)


def test_an_unknown_database_error_is_bounded_whatever_the_registry_keys() -> None:
    from soajs.errors import TenantDatabaseNotFoundError

    keys = {("k" * 100_000) + str(i): {"name": "a"} for i in range(50)}
    registry = Registry.model_validate({"tenantMetaDB": keys})
    with pytest.raises(TenantDatabaseNotFoundError) as caught:
        resolve_tenant_db(registry, "x" * 100_000, "T1")
    assert len(str(caught.value)) < 5_000


def test_options_no_driver_knows_are_dropped_as_node_registries_carry_them() -> None:
    # the old Node driver's sections, as SOAJS registries still hold them
    extra = {
        "db": {"native_parser": True, "bufferMaxEntries": 0},
        "server": {"poolSize": 5, "socketOptions": {"keepAlive": 1, "connectTimeoutMS": 3000}},
        "replSet": {"ha": True},
    }
    db = _db(URLParam={"useUnifiedTopology": True, "replicaSet": "rs0"}, extraParam=extra)
    assert db.options() == {"replicaSet": "rs0", "connectTimeoutMS": 3000}
    assert _parse(db.uri())["options"] == {"replicaSet": "rs0", "connectTimeoutMS": 3.0}
    from pymongo import MongoClient

    MongoClient("mongodb://h/", connect=False, **db.options()).close()  # no ConfigurationError
