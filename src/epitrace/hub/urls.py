"""URL routes of the hub: the JSON API (every endpoint asks epitrace.hub.policy)."""

from __future__ import annotations

from django.urls import include, path

from epitrace.hub.accounts import login, views
from epitrace.hub.audit import pages as audit_pages
from epitrace.hub.audit import views as audit_views
from epitrace.hub.cases import pages as case_pages
from epitrace.hub.retention import views as retention_views
from epitrace.hub.web import (
    basemap,
    dashboard,
    exports,
    hotspots,
    openapi,
    preference_views,
    request_pages,
)
from epitrace.hub.web import pages as web_pages
from epitrace.hub.web import views as web_views

urlpatterns = [
    path("api/csrf", login.csrf, name="csrf"),
    path("api/login", login.login, name="login"),
    path("api/otp/enrol", login.enrol, name="otp-enrol"),
    path("api/otp/verify", login.verify, name="otp-verify"),
    path("api/otp/recovery-codes", login.recovery_codes, name="recovery-codes"),
    path("api/logout", login.sign_out, name="logout"),
    path("api/whoami", views.whoami, name="whoami"),
    path("api/regions", views.region_list, name="region-list"),
    path("api/regions/<slug:code>", views.region_detail, name="region-detail"),
    path("api/users", views.user_list, name="user-list"),
    path("api/users/<str:username>/role", views.user_role, name="user-role"),
    path("api/users/<str:username>/revoke", views.user_revoke, name="user-revoke"),
    path("api/users/<str:username>/unlock", views.user_unlock, name="user-unlock"),
    path("api/users/<str:username>/role-history", views.role_history, name="role-history"),
    path("api/audit/entries", audit_views.entry_list, name="audit-entries"),
    path("api/retention", retention_views.retention_api, name="retention"),
    path("api/", include("epitrace.hub.cases.urls")),  # api/cases, api/cases/...
    path("api/", include("epitrace.hub.exchange.urls")),  # requests, agents, results
    path("api/openapi.json", openapi.schema, name="openapi"),
    # Server-rendered pages (epitrace.hub.web, the auditor's pages in epitrace.hub.audit).
    path("", web_views.home, name="home"),
    path("login", web_views.login_page, name="web-login"),
    path("enrol", web_views.enrol_page, name="web-enrol"),
    path("verify", web_views.verify_page, name="web-verify"),
    path("logout", web_views.logout_page, name="web-logout"),
    path("regions", web_views.regions_page, name="web-regions"),
    path("users", web_views.users_page, name="web-users"),
    path("retention", retention_views.retention_page, name="web-retention"),
    path("audit", audit_pages.log_page, name="web-audit"),
    path("audit/export.csv", audit_pages.export_csv, name="web-audit-csv"),
    path("audit/export.fhir", audit_pages.export_fhir, name="web-audit-fhir"),
    path("audit/review", audit_pages.review_page, name="web-audit-review"),
    path("dashboard", dashboard.dashboard_page, name="web-dashboard"),
    path("", include("epitrace.hub.disclosure.urls")),  # disclosure review, public list
    path("cases/<str:case_id>/exports", exports.export_page, name="web-exports"),
    path("cases/<str:case_id>/exports/<str:name>", exports.export_file, name="web-export"),
    path("static/hub.css", web_pages.stylesheet, name="stylesheet"),
    # Investigators' pages (docs/web.md): cases, the case page and its map, hotspots.
    path("cases", case_pages.case_list_page, name="web-cases"),
    path("cases/new", case_pages.case_new_page, name="web-case-new"),
    path("cases/<str:case_id>", case_pages.case_page, name="web-case"),
    path("cases/<str:case_id>/interview", case_pages.case_interview_page, name="web-interview"),
    path("hotspots", hotspots.hotspots_page, name="web-hotspots"),
    path("map/base.geojson", basemap.base_geojson, name="map-base"),
    path("preferences", preference_views.preferences_page, name="web-preferences"),
    path("preferences/language", preference_views.switch_language, name="web-language"),
    # Data requests, the police's decisions, the agencies' view, notifications.
    path("cases/<str:case_id>/request", request_pages.request_new_page, name="web-request-new"),
    path("requests", request_pages.request_list_page, name="web-requests"),
    path("requests/<str:request_id>", request_pages.request_page, name="web-request"),
    path(
        "requests/<str:request_id>/status",
        request_pages.request_status_fragment,
        name="web-request-status",
    ),
    path(
        "requests/<str:request_id>/decision",
        request_pages.request_decision,
        name="web-request-decision",
    ),
    path("notifications", request_pages.notifications_page, name="web-notifications"),
]
