"""The JSON API of links between cases: list, one link, confirm, reject, add by hand.

Every link shown is a recorded view (``link.view`` on the link: both cases within the
jurisdiction); every decision asks ``link.decide`` and needs a reason.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from epitrace.hub import access, policy
from epitrace.hub.api import BadRequest, bad_request, body_of, field
from epitrace.hub.cases.models import Case
from epitrace.hub.chains.decisions import LinkError, add_link, decide_link, visible_links
from epitrace.hub.chains.models import ProposedLink
from epitrace.hub.chains.refresh import open_evidence
from epitrace.hub.reasons import NotAReason
from epitrace.hub.security import client_ip

LIST_LIMIT = 2000


def link_json(link: ProposedLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "source": link.source.case_id,
        "target": link.target.case_id,
        "origin": link.origin,
        "score": link.score,
        "status": link.status,
        "decided_by": link.decided_by,
        "decided_at": link.decided_at.isoformat() if link.decided_at else None,
        "evidence": open_evidence(link),
    }


def record_views(request: HttpRequest, links: list[ProposedLink]) -> None:
    """Each link shown is a recorded view of it."""
    for link in links:
        policy.decide(request.user, "link.view", link, ip=client_ip(request))


def _links() -> QuerySet:
    return ProposedLink.objects.select_related("source", "target")


@require_http_methods(["GET", "POST"])
@access.api()
def link_collection(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _add(request)
    access.require(request, "link.view")
    links = list(visible_links(request.user)[:LIST_LIMIT])
    record_views(request, links)
    return JsonResponse({"links": [link_json(link) for link in links]})


def _case(request: HttpRequest, case_id: str) -> Case:
    """A case of the jurisdiction, or the 404 of one outside it or missing."""
    found = policy.visible(request.user, "link.decide", Case.objects.all()).filter(case_id=case_id)
    case = found.first()
    if case is None:
        raise access.Refused(policy.NOT_FOUND)
    return case


def _add(request: HttpRequest) -> JsonResponse:
    if not policy.permits(request.user, "link.decide"):  # the refusal recorded, as any
        access.require(request, "link.decide")
    try:
        data = body_of(request)
        source = _case(request, field(data, "source"))
        target = _case(request, field(data, "target"))
        reason = field(data, "reason", required=False)
        access.require(request, "link.decide", ProposedLink(source=source, target=target))
        link = add_link(request.user, source, target, reason=reason, ip=client_ip(request))
    except (BadRequest, NotAReason) as error:
        return bad_request(error)
    except LinkError as error:
        return JsonResponse({"error": str(error)}, status=409)
    return JsonResponse(link_json(link), status=201)


@require_GET
@access.api()
def link_detail(request: HttpRequest, pk: int) -> JsonResponse:
    link = access.find(request, "link.view", _links(), pk=pk)
    return JsonResponse(link_json(link))


def _decide(request: HttpRequest, pk: int, *, confirm: bool) -> JsonResponse:
    link = access.find(request, "link.decide", _links(), pk=pk)
    try:
        reason = field(body_of(request), "reason", required=False)
        decided = decide_link(
            request.user, link, confirm=confirm, reason=reason, ip=client_ip(request)
        )
    except (BadRequest, NotAReason) as error:
        return bad_request(error)
    except LinkError as error:
        return JsonResponse({"error": str(error)}, status=409)
    return JsonResponse(link_json(decided))


@require_POST
@access.api()
def link_confirm(request: HttpRequest, pk: int) -> JsonResponse:
    return _decide(request, pk, confirm=True)


@require_POST
@access.api()
def link_reject(request: HttpRequest, pk: int) -> JsonResponse:
    return _decide(request, pk, confirm=False)
