"""Routes of the disclosure: the review pages, the public list and its JSON feed."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.disclosure import api, views

urlpatterns = [
    path("cases/<str:case_id>/disclosure", views.review_page, name="disclosure-review"),
    path("cases/<str:case_id>/disclosure/<slug:step>", views.step_view, name="disclosure-step"),
    path("public/exposures", views.public_page, name="public-exposures"),
    path("public/exposures.json", api.public_feed, name="public-exposures-feed"),
]
