"""Routes of accounts: the sign-in API and pages, regions, users and roles."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.accounts import api, views

urlpatterns = [
    path("api/csrf", api.csrf, name="csrf"),
    path("api/login", api.login, name="login"),
    path("api/otp/enrol", api.enrol, name="otp-enrol"),
    path("api/otp/verify", api.verify, name="otp-verify"),
    path("api/otp/recovery-codes", api.recovery_codes, name="recovery-codes"),
    path("api/logout", api.sign_out, name="logout"),
    path("api/whoami", api.whoami, name="whoami"),
    path("api/regions", api.region_list, name="region-list"),
    path("api/regions/<slug:code>", api.region_detail, name="region-detail"),
    path("api/users", api.user_list, name="user-list"),
    path("api/users/<str:username>/role", api.user_role, name="user-role"),
    path("api/users/<str:username>/revoke", api.user_revoke, name="user-revoke"),
    path("api/users/<str:username>/unlock", api.user_unlock, name="user-unlock"),
    path("api/users/<str:username>/role-history", api.role_history, name="role-history"),
    path("api/users/<str:username>/password-reset", api.user_password_reset, name="password-reset"),
    path(
        "api/users/<str:username>/second-factor-reset",
        api.user_second_factor_reset,
        name="second-factor-reset",
    ),
    path("api/role-grants", api.grant_list, name="grant-list"),
    path("api/role-grants/<int:pk>/approve", api.grant_approve, name="grant-approve"),
    path("api/role-grants/<int:pk>/refuse", api.grant_refuse, name="grant-refuse"),
    path("api/account/password", api.own_password, name="own-password"),
    path("login", views.login_page, name="web-login"),
    path("enrol", views.enrol_page, name="web-enrol"),
    path("verify", views.verify_page, name="web-verify"),
    path("logout", views.logout_page, name="web-logout"),
    path("password", views.password_page, name="web-password"),
    path("regions", views.regions_page, name="web-regions"),
    path("users", views.users_page, name="web-users"),
    path("users/<str:username>", views.user_page, name="web-user"),
    path("users/<str:username>/<slug:step>", views.user_step, name="web-user-step"),
    path("role-grants/<int:pk>/<slug:decision>", views.grant_decision, name="web-grant-decision"),
]
