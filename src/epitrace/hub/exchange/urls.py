"""Routes of the exchange: investigators' and approvers' API, and the agents' API."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.exchange import agent_api, views

urlpatterns = [
    path("cases/<str:case_id>/requests", views.case_requests, name="case-requests"),
    path("cases/<str:case_id>/window", views.case_window, name="case-window"),
    path("cases/<str:case_id>/analysis", views.case_analysis, name="case-analysis"),
    path("cases/<str:case_id>/interview", views.case_interview, name="case-interview"),
    path("requests", views.request_list, name="request-list"),
    path("requests/<str:request_id>", views.request_detail, name="request-detail"),
    path("requests/<str:request_id>/decision", views.request_decision, name="request-decision"),
    path("notifications", views.notifications, name="notifications"),
    path("notifications/read", views.notifications_read, name="notifications-read"),
    path("agent/hello", agent_api.hello, name="agent-hello"),
    path("agent/tasks", agent_api.tasks, name="agent-tasks"),
    path("agent/tasks/<int:task_id>/answer", agent_api.answer, name="agent-answer"),
    path("agent/tasks/<int:task_id>/refuse", agent_api.decline, name="agent-refuse"),
]
