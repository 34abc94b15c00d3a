"""The maps' offline base: the administrator's outlines of the city (a GeoJSON file set by
``EPITRACE_MAP_BASE_GEOJSON``, e.g. districts exported from the simulator's regions or
the city's own GIS) and an optional tile server on the closed network
(``EPITRACE_MAP_TILE_URL``). The map scripts draw a graticule themselves, so a map always
has a reference grid without any network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from epitrace.hub import access

EMPTY = {"type": "FeatureCollection", "features": []}


@cache
def _outlines(path: str) -> dict[str, Any]:
    if not path:
        return EMPTY
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return EMPTY
    return data if isinstance(data, dict) and data.get("type") == "FeatureCollection" else EMPTY


@require_GET
@access.api("account.whoami")
def base_geojson(request: HttpRequest) -> HttpResponse:
    """The outlines (no personal data: the city's geography); signed-in accounts only."""
    response = JsonResponse(_outlines(settings.EPITRACE_MAP_BASE_GEOJSON))
    response.headers["Content-Type"] = "application/geo+json"
    return response


def map_settings() -> dict[str, Any]:
    """What every map script needs besides its own data."""
    return {"tile_url": settings.EPITRACE_MAP_TILE_URL, "base_url": "/map/base.geojson"}


def timeline_labels() -> dict[str, str]:
    return {
        "title": _("Timeline of stays and moves"),
        "stays": _("Stays"),
        "moves": _("Moves"),
        "move": _("Move"),
        "unnamed": _("unnamed place"),
    }
