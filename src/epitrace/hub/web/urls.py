"""Routes of the shared pages: home, preferences, the dashboard, the stylesheet, the maps'
base layer and the OpenAPI schema of the whole JSON API."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.web import basemap, dashboard, openapi, streets, views

urlpatterns = [
    path("api/openapi.json", openapi.schema, name="openapi"),
    path("", views.home, name="home"),
    path("dashboard", dashboard.dashboard_page, name="web-dashboard"),
    path("static/hub.css", views.stylesheet, name="stylesheet"),
    path("map/palette.css", views.palette, name="map-palette"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("map/base.geojson", basemap.base_geojson, name="map-base"),
    path("map/outlines.geojson", basemap.outlines_geojson, name="map-outlines"),
    path("map/streets.pmtiles", streets.streets_pmtiles, name="map-streets"),
    path("preferences", views.preferences_page, name="web-preferences"),
    path("preferences/language", views.switch_language, name="web-language"),
]
