"""Secrets that hide in free-form places: resource configs and unknown credential fields."""

from __future__ import annotations

import logging

import pytest

from soajs.models import Credentials, Registry, Resource

CLUSTER = {
    "name": "prod_cluster",
    "type": "cluster",
    "config": {
        "servers": [{"host": "10.0.0.1", "port": 27017}],
        "credentials": {"username": "admin", "password": "cluster-secret-pw"},
        "URLParam": {"replicaSet": "rs0"},
    },
}


def test_resource_config_credentials_are_masked_but_reachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resource = Resource.model_validate(CLUSTER)
    caplog.set_level(logging.INFO)
    logging.getLogger("soajs.test").info("%s %r", resource, resource)
    shown = [repr(resource), str(resource), resource.model_dump_json(), str(resource.model_dump())]
    shown.append(caplog.text)
    for text in shown:
        assert "cluster-secret-pw" not in text
    assert "rs0" in resource.model_dump_json()  # the rest of the config is still there
    assert resource.config is not None
    assert resource.config["credentials"]["password"] == "cluster-secret-pw"
    revealed = resource.model_dump_json(context={"reveal_secrets": True})
    assert "cluster-secret-pw" in revealed


def test_resource_secrets_are_masked_inside_a_registry_dump() -> None:
    registry = Registry.model_validate({"resources": {"cluster": {"prod_cluster": CLUSTER}}})
    assert "cluster-secret-pw" not in registry.model_dump_json()
    assert "cluster-secret-pw" not in repr(registry)


def test_unknown_credential_fields_are_masked_in_dumps() -> None:
    creds = Credentials.model_validate(
        {"username": "u", "password": "p-secret", "token": "tok-secret", "authSource": None}
    )
    for text in (repr(creds), creds.model_dump_json(), str(creds.model_dump())):
        assert "tok-secret" not in text
        assert "p-secret" not in text
    assert creds.model_dump()["authSource"] is None
    assert "tok-secret" in creds.model_dump_json(context={"reveal_secrets": True})
