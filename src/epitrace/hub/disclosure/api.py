"""The JSON API of the disclosure: ``GET /public/exposures.json``, the public feed.

No sign-in and no personal data: places, neighbourhoods, rides and time windows, as on
the public list (disclosure/views.py).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from epitrace.hub.disclosure import drafts, views


def _public_rows(now: dt.datetime) -> list[dict[str, Any]]:
    tz = views.public_tz()
    return [drafts.public_record(e, tz) for e in drafts.shown_entries(now)]


@require_GET
def public_feed(request: HttpRequest) -> JsonResponse:
    now = drafts.now()
    body = {
        "generated_at": now.astimezone(zoneinfo.ZoneInfo(views.public_tz())).isoformat(),
        "timezone": views.public_tz(),
        "guideline": "Central Disease Control Headquarters, guideline on disclosing "
        "confirmed patients' movements, 3rd edition (2020)",
        "entries": _public_rows(now),
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response.headers["Cache-Control"] = f"public, max-age={views.FEED_CACHE_SECONDS}"
    return response
