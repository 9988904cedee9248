"""Issue 17: services answering in the SOAJS envelope, behind the real gateway.

The FastAPI, Flask and Django examples answer ``/orders/{id}`` with
``build_response`` (200) or a ``SoajsError`` (404, code 400 from their errors
map). A keyed client through the gateway receives exactly what the service
answered directly: the status, the Content-Type and the body, byte for byte;
and the connector's ``unwrap`` reads both.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from soajs.connector import ServiceError, unwrap
from tests.interop.rig import Gateway, Service, ext_key, wait_until

pytestmark = pytest.mark.interop

ORDER_ERROR = (
    b'{"result":false,"errors":{"codes":[400],'
    b'"details":[{"code":400,"message":"Order not found"}]}}'
)


@pytest.mark.parametrize(
    ("kind", "name"),
    [("fastapi", "hellofastapi"), ("flask", "helloflask"), ("django", "hellodjango")],
)
def test_envelope_through_the_gateway_unchanged(
    gateway: Gateway, start_service: Callable[..., Service], kind: str, name: str
) -> None:
    service = start_service(kind, name)
    with httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=5) as client:
        answers: list[httpx.Response] = []

        def routed() -> bool:
            answers.append(client.get(f"/{name}/v1/orders/7"))
            return answers[-1].status_code == 200

        assert wait_until(routed, timeout=5 * gateway.health_check_ms / 1000 + 2, step=0.1), (
            answers[-1].status_code,
            answers[-1].text,
        )
        found = answers[-1]
        missing = client.get(f"/{name}/v1/orders/9")

    direct_found = httpx.get(f"{service.url}/orders/7", timeout=5)
    direct_missing = httpx.get(f"{service.url}/orders/9", timeout=5)

    assert missing.status_code == direct_missing.status_code == 404
    assert missing.content == direct_missing.content == ORDER_ERROR
    assert missing.headers["content-type"] == direct_missing.headers["content-type"]
    assert missing.headers["content-type"].startswith("application/json")
    assert found.status_code == direct_found.status_code == 200
    assert found.content == direct_found.content
    assert found.json() == {"result": True, "data": {"id": 7, "item": "book"}}

    # what a SOAJS client (our connector) reads of each
    assert unwrap(found, service=name) == {"id": 7, "item": "book"}
    with pytest.raises(ServiceError) as info:
        unwrap(missing, service=name)
    assert (info.value.status, info.value.codes, info.value.message) == (
        404,
        (400,),
        "Order not found",
    )


def test_the_gateways_own_errors_decode_the_same_way(gateway: Gateway) -> None:
    """The gateway's refusal (unknown service, 404, code 130) is the same envelope."""
    answer = httpx.get(f"{gateway.url}/nosuchservice/v1/x", headers={"key": ext_key()}, timeout=5)
    with pytest.raises(ServiceError) as info:
        unwrap(answer, service="nosuchservice")
    assert info.value.status == answer.status_code
    assert info.value.codes == tuple(answer.json()["errors"]["codes"])
