"""Routes of the disclosure pages, included at the hub's root by epitrace.hub.urls."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.disclosure import views

urlpatterns = [
    path("cases/<str:case_id>/disclosure", views.review_page, name="disclosure-review"),
    path("cases/<str:case_id>/disclosure/<slug:step>", views.step_view, name="disclosure-step"),
    path("public/exposures", views.public_page, name="public-exposures"),
    path("public/exposures.json", views.public_feed, name="public-exposures-feed"),
]
