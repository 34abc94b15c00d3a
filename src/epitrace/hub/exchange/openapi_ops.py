"""The exchange's endpoints in the hub's OpenAPI schema (merged by web/openapi.py)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def exchange_operations(
    op: Any, ok: Any, body: Any, path_param: Any, not_found: Json
) -> dict[str, Json]:
    """Built with the schema module's own helpers, so both stay in one style."""
    case = [path_param("case_id")]
    request = [path_param("request_id")]
    task = [{"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    purpose = {"name": "purpose", "in": "query", "required": True, "schema": {"type": "string"}}
    bearer = [{"agentToken": []}]
    return {
        "/api/cases/{case_id}/requests": {
            "parameters": case,
            "post": op(
                "Ask for a case's data: kinds (telecom, cards, transit, checkins, contacts), "
                "justification; start/end beyond the guideline's window need widen_reason",
                {**ok("the request, with its status", status="201"), **not_found},
                body("justification", optional=("start", "end", "widen_reason")),
                "requests",
            ),
        },
        "/api/cases/{case_id}/window": {
            "parameters": case,
            "get": op(
                "The guideline's default window", {**ok("days"), **not_found}, tag="requests"
            ),
        },
        "/api/cases/{case_id}/analysis": {
            "parameters": case,
            "get": {
                **op(
                    "The case's stays, path, interview comparison and contacts; audited",
                    {**ok("analysis"), **not_found},
                    tag="results",
                ),
                "parameters": [purpose],
            },
        },
        "/api/cases/{case_id}/interview": {
            "parameters": case,
            "post": op(
                "Attach the interview's places (an interview_visits CSV, form field 'file')",
                {**ok("rows read", status="201"), **not_found},
                tag="requests",
            ),
        },
        "/api/requests": {
            "get": op("Requests in the account's jurisdiction", ok("requests"), tag="requests")
        },
        "/api/requests/{request_id}": {
            "parameters": request,
            "get": op("A request, with its tasks per agency", {**ok("request"), **not_found}),
        },
        "/api/requests/{request_id}/decision": {
            "parameters": request,
            "post": op(
                "Approve, or refuse with a reason (police approvers; never the requester)",
                {**ok("the decided request"), **not_found},
                body("approve", optional=("reason",)),
                "requests",
            ),
        },
        "/api/notifications": {"get": op("The account's notifications", ok("notifications"))},
        "/api/notifications/read": {"post": op("Mark them read", ok("how many"))},
        "/api/agent/hello": {
            "post": {
                **op("An agent introduces its store", ok("agency"), body("agency", "store")),
                "security": bearer,
            }
        },
        "/api/agent/tasks": {
            "get": {**op("The agency's ready tasks", ok("tasks"), tag="agents"), "security": bearer}
        },
        "/api/agent/tasks/{task_id}/answer": {
            "parameters": task,
            "put": {
                **op(
                    "Upload a task's answer file (zip), checksum in X-Answer-SHA256; "
                    "the same file again is acknowledged (200)",
                    {**ok("received", status="201"), **ok("already received"), **not_found},
                    tag="agents",
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/zip": {"schema": {"type": "string"}}},
                },
                "security": bearer,
            },
        },
        "/api/agent/tasks/{task_id}/refuse": {
            "parameters": task,
            "post": {
                **op("Decline a task, with the reason", {**ok("declined"), **not_found}),
                "requestBody": body("reason"),
                "security": bearer,
            },
        },
    }
