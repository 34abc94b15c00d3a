"""The JSON API of retention (``settings.manage``): ``GET /api/retention`` the settings
and what will be destroyed when, ``POST /api/retention`` a change with its reason.

The same as the retention page (retention/views.py), whose ``change`` it shares.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from epitrace.hub import access
from epitrace.hub.api import BadRequest, bad_request, body_of
from epitrace.hub.retention.editing import InvalidSettings, forecast
from epitrace.hub.retention.views import ACTION, change


@require_http_methods(["GET", "POST"])
@access.api(ACTION)
def retention_api(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        try:
            changes = change(request, body_of(request))
        except (BadRequest, InvalidSettings) as problem:
            return bad_request(problem)
        return JsonResponse({"changed": changes, **forecast()})
    return JsonResponse(forecast())
