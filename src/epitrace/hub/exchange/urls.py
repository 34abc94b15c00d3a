"""Routes of the exchange: the investigators' and approvers' API, the agents' API, and the
pages of requests, notifications, interviews, exports and hotspots."""

from __future__ import annotations

from django.urls import path

from epitrace.hub.exchange import agent_api, api, views

urlpatterns = [
    path("api/cases/<str:case_id>/requests", api.case_requests, name="case-requests"),
    path("api/cases/<str:case_id>/window", api.case_window, name="case-window"),
    path("api/cases/<str:case_id>/analysis", api.case_analysis, name="case-analysis"),
    path("api/cases/<str:case_id>/interview", api.case_interview, name="case-interview"),
    path("api/requests", api.request_list, name="request-list"),
    path("api/requests/<str:request_id>", api.request_detail, name="request-detail"),
    path("api/requests/<str:request_id>/decision", api.request_decision, name="request-decision"),
    path("api/notifications", api.notifications, name="notifications"),
    path("api/notifications/read", api.notifications_read, name="notifications-read"),
    path("api/agent/hello", agent_api.hello, name="agent-hello"),
    path("api/agent/tasks", agent_api.tasks, name="agent-tasks"),
    path("api/agent/tasks/<int:task_id>/answer", agent_api.answer, name="agent-answer"),
    path("api/agent/tasks/<int:task_id>/refuse", agent_api.decline, name="agent-refuse"),
    path("cases/<str:case_id>/request", views.request_new_page, name="web-request-new"),
    path("cases/<str:case_id>/interview", views.case_interview_page, name="web-interview"),
    path("cases/<str:case_id>/exports", views.export_page, name="web-exports"),
    path("cases/<str:case_id>/exports/<str:name>", views.export_file, name="web-export"),
    path("requests", views.request_list_page, name="web-requests"),
    path("requests/<str:request_id>", views.request_page, name="web-request"),
    path(
        "requests/<str:request_id>/status", views.request_status_fragment, name="web-request-status"
    ),
    path("requests/<str:request_id>/decision", views.request_decision, name="web-request-decision"),
    path("notifications", views.notifications_page, name="web-notifications"),
    path("hotspots", views.hotspots_page, name="web-hotspots"),
    path("hotspots/progress", views.hotspots_progress_fragment, name="web-hotspots-progress"),
]
