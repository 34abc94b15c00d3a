"""Routes of retention: the administrator's page and its JSON twin."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.retention import api, views

urlpatterns = [
    path("api/retention", api.retention_api, name="retention"),
    path("retention", views.retention_page, name="web-retention"),
]
