"""Routes of the audit log: the auditors' JSON API and pages."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.audit import api, views

urlpatterns = [
    path("api/audit/entries", api.entry_list, name="audit-entries"),
    path("audit", views.log_page, name="web-audit"),
    path("audit/export.csv", views.export_csv, name="web-audit-csv"),
    path("audit/export.fhir", views.export_fhir, name="web-audit-fhir"),
    path("audit/verify", views.verify_page, name="web-audit-verify"),
    path("audit/review", views.review_page, name="web-audit-review"),
]
