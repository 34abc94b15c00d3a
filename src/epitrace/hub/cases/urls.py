"""Routes of the cases API, mounted under ``api/`` by epitrace.hub.urls."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.cases import views

urlpatterns = [
    path("cases", views.case_collection, name="case-list"),
    path("cases/search", views.case_search, name="case-search"),
    path("cases/<str:case_id>", views.case_detail, name="case-detail"),
]
