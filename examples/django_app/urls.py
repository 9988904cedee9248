from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from examples._service import tenant_data, whoami


def who(request: HttpRequest) -> JsonResponse:
    return JsonResponse(whoami(request.soajs))


def tenant_data_view(request: HttpRequest) -> JsonResponse:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return JsonResponse(tenant_data(request.soajs))


urlpatterns = [path("whoami", who), path("tenant-data", tenant_data_view)]
