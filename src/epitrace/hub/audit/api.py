"""The JSON API of the audit log, read-only, for auditors (the pages: audit/views.py).

Nothing in the hub edits or deletes entries.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from epitrace.hub import access
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases import notes

PAGE = 200


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    try:
        return int(request.GET.get(name, default))
    except ValueError:
        return default


@require_GET
@access.api("audit.read")
def entry_list(request: HttpRequest) -> JsonResponse:
    """Entries after ``after`` (a seq), filtered by ``actor`` and ``action``; PAGE at most."""
    entries = AuditEntry.objects.filter(seq__gt=_int_param(request, "after", 0))
    for name in ("actor", "action"):
        if request.GET.get(name):
            entries = entries.filter(**{name: request.GET[name]})
    limit = min(max(_int_param(request, "limit", PAGE), 1), PAGE)
    page = list(entries.order_by("seq")[:limit])
    fields = ["seq", "actor", "role", "action", "object_type", "object_id"]
    # Free text in its case's keeping (cases/notes.py) is shown while the case exists.
    details = notes.shown_details([e.detail for e in page])
    return JsonResponse(
        {
            "entries": [
                {"at": e.at.isoformat(), **{name: getattr(e, name) for name in fields}, "detail": d}
                for e, d in zip(page, details, strict=True)
            ],
            "next_after": page[-1].seq if len(page) == limit else None,
        }
    )
