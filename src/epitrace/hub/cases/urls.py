"""Routes of cases: the JSON API and the investigators' case pages."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.cases import api, views

urlpatterns = [
    path("api/cases", api.case_collection, name="case-list"),
    path("api/cases/search", api.case_search, name="case-search"),
    path("api/cases/<str:case_id>", api.case_detail, name="case-detail"),
    path("cases", views.case_list_page, name="web-cases"),
    path("cases/new", views.case_new_page, name="web-case-new"),
    path("cases/<str:case_id>", views.case_page, name="web-case"),
]
