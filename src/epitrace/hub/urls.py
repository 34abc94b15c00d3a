"""URL routes of the hub: the JSON API (every endpoint asks epitrace.hub.policy)."""

from __future__ import annotations

from django.urls import include, path

from epitrace.hub.accounts import login, views
from epitrace.hub.audit import views as audit_views

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
    path("api/", include("epitrace.hub.cases.urls")),  # api/cases, api/cases/...
]
