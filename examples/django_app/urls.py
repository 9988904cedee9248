from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from examples._service import whoami


def who(request: HttpRequest) -> JsonResponse:
    return JsonResponse(whoami(request.soajs))


urlpatterns = [path("whoami", who)]
