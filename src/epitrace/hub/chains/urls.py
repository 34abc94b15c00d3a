"""Routes of links between cases: the JSON API (the pages come with views.py)."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.chains import api

urlpatterns = [
    path("api/links", api.link_collection, name="link-list"),
    path("api/links/<int:pk>", api.link_detail, name="link-detail"),
    path("api/links/<int:pk>/confirm", api.link_confirm, name="link-confirm"),
    path("api/links/<int:pk>/reject", api.link_reject, name="link-reject"),
]
