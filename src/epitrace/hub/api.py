"""What every JSON endpoint shares: reading the body, answering a policy decision."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse

from epitrace.errors import EpitraceError
from epitrace.hub.policy import Decision


class BadRequest(EpitraceError, ValueError):
    """The request body is not what the endpoint expects."""


def body_of(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest("the body is not JSON") from error
    if not isinstance(data, dict):
        raise BadRequest("the body is not a JSON object")
    return data


def field(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def refusal(decision: Decision) -> JsonResponse:
    """The answer to a refused decision: its status, and a reason that leaks nothing."""
    return JsonResponse({"error": decision.reason}, status=decision.status)


def bad_request(error: Exception) -> JsonResponse:
    return JsonResponse({"error": str(error)}, status=400)
