from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from examples._service import tenant_data, whoami
from soajs.response import SoajsError
from soajs.response.django import envelope_response


def who(request: HttpRequest) -> JsonResponse:
    return JsonResponse(whoami(request.soajs))


# The SOAJS envelope (docs/tenant-data.md, Responses); a SoajsError is answered by
# soajs.response.django.EnvelopeMiddleware (settings.MIDDLEWARE), its message from
# settings.SOAJS_RESPONSE["errors"].
ORDERS = {"7": {"id": 7, "item": "book"}}


def order(request: HttpRequest, order_id: str) -> HttpResponse:
    if order_id not in ORDERS:
        raise SoajsError(400, status=404)
    return envelope_response(ORDERS[order_id])


def tenant_data_view(request: HttpRequest) -> JsonResponse:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return JsonResponse(tenant_data(request.soajs))


urlpatterns = [
    path("whoami", who),
    path("orders/<str:order_id>", order),
    path("tenant-data", tenant_data_view),
]
