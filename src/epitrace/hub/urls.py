"""URL routes of the hub: each app's own routes (its JSON API under ``api/`` and its pages).

Every view asks ``epitrace.hub.policy`` through ``epitrace.hub.access``. The addresses are
a public interface (bookmarks, the agents, the OpenAPI schema): they never change when
code moves between apps.
"""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("epitrace.hub.accounts.urls")),
    path("", include("epitrace.hub.audit.urls")),
    path("", include("epitrace.hub.cases.urls")),
    path("", include("epitrace.hub.exchange.urls")),
    path("", include("epitrace.hub.disclosure.urls")),
    path("", include("epitrace.hub.retention.urls")),
    path("", include("epitrace.hub.chains.urls")),
    path("", include("epitrace.hub.web.urls")),
]
