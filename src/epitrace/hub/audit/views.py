"""The audit log, read-only, for auditors. Nothing in the hub edits or deletes entries."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from epitrace.hub import policy
from epitrace.hub.api import refusal
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.security import client_ip

PAGE = 200


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    try:
        return int(request.GET.get(name, default))
    except ValueError:
        return default


@require_GET
def entry_list(request: HttpRequest) -> JsonResponse:
    """Entries after ``after`` (a seq), filtered by ``actor`` and ``action``; PAGE at most."""
    decision = policy.decide(request.user, "audit.read", ip=client_ip(request))
    if not decision.allowed:
        return refusal(decision)
    entries = AuditEntry.objects.filter(seq__gt=_int_param(request, "after", 0))
    for name in ("actor", "action"):
        if request.GET.get(name):
            entries = entries.filter(**{name: request.GET[name]})
    limit = min(max(_int_param(request, "limit", PAGE), 1), PAGE)
    page = list(entries.order_by("seq")[:limit])
    fields = ["seq", "actor", "role", "action", "object_type", "object_id", "detail"]
    return JsonResponse(
        {
            "entries": [
                {"at": e.at.isoformat(), **{name: getattr(e, name) for name in fields}}
                for e in page
            ],
            "next_after": page[-1].seq if len(page) == limit else None,
        }
    )
