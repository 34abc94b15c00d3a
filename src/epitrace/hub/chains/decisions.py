"""Investigators' decisions on links: confirm or reject a proposal, add a link by hand.

Each needs a reason (``hub/reasons.py``) and is recorded as ``link.confirm``,
``link.reject`` or ``link.add``. The caller has asked the policy first (``link.decide``
on the link: both cases within the jurisdiction; chains/api.py does). The reason is
free text: it is sealed with both cases (``cases/notes.py``) and the link and the audit
entry hold only its reference, so the purge of either case destroys it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from epitrace.errors import UserInputError
from epitrace.hub import policy, reasons
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.cases.models import Case
from epitrace.hub.chains.models import LinkOrigin, LinkStatus, ProposedLink
from epitrace.hub.chains.refresh import seal_evidence

HAND_EVIDENCE = "entered by hand"


class LinkError(UserInputError, ValueError):
    """A decision that cannot be taken (already decided, a link of a case to itself, a
    pair already linked); the message is a catalogue entry, ``params`` its fields."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


def _audit(user: Any, action: str, link: ProposedLink, sealed: dict[str, object], ip: str) -> None:
    assignment = policy.assignment_of(user)
    detail: dict[str, object] = {**sealed, "source": link.source.audit_name}
    detail["target"] = link.target.audit_name
    if ip:
        detail["ip"] = ip
    record(
        user.get_username(),
        action,
        role=assignment.role if assignment else "",
        object_type="proposedlink",
        object_id=link.audit_name,
        detail=detail,
    )


def decide_link(
    user: Any, link: ProposedLink, *, confirm: bool, reason: str, ip: str = ""
) -> ProposedLink:
    """Confirm or reject a proposed link, with a reason. Raises ``NotAReason`` for an
    empty reason, ``LinkError`` when the link was decided meanwhile."""
    text = reasons.checked(reason, "reason")
    with transaction.atomic():
        locked = ProposedLink.objects.select_for_update().get(pk=link.pk)
        if locked.status != LinkStatus.PROPOSED:
            problem = gettext_noop("this link was already %(status)s")
            raise LinkError(problem, status=str(locked.status))
        sealed = notes.sealed_texts([locked.source, locked.target], reason=text)
        locked.status = LinkStatus.CONFIRMED if confirm else LinkStatus.REJECTED
        locked.decided_by, locked.decided_at = user.get_username(), timezone.now()
        locked.reason = sealed
        locked.save()
        _audit(user, "link.confirm" if confirm else "link.reject", locked, sealed, ip)
    return locked


def add_link(user: Any, source: Case, target: Case, *, reason: str, ip: str = "") -> ProposedLink:
    """A link entered by hand (from the interview): confirmed at once, its evidence
    "entered by hand". An existing proposal of the pair is confirmed instead. Raises
    ``NotAReason`` or ``LinkError`` (a case linked to itself, a pair already decided)."""
    if source.pk == target.pk:
        raise LinkError(gettext_noop("a case cannot infect itself"))
    link = ProposedLink(source=source, target=target, origin=LinkOrigin.HAND)
    text = reasons.checked(reason, "reason")
    with transaction.atomic():
        existing = ProposedLink.objects.select_for_update().filter(source=source, target=target)
        found = existing.first()
        if found is not None and found.status != LinkStatus.PROPOSED:
            problem = gettext_noop("%(source)s -> %(target)s is already %(status)s")
            raise LinkError(problem, source=str(source), target=str(target), status=found.status)
        if found is not None:
            link = found
        else:
            link.evidence_enc = seal_evidence(target, {"via": HAND_EVIDENCE})
        sealed = notes.sealed_texts([source, target], reason=text)
        link.status = LinkStatus.CONFIRMED
        link.decided_by, link.decided_at = user.get_username(), timezone.now()
        link.reason = sealed
        link.save()
        _audit(user, "link.add", link, sealed, ip)
    return link


def visible_links(user: Any) -> Any:
    """The links whose two cases both lie in the account's jurisdiction (``link.view``);
    none for a role that may not see links."""
    cases = policy.visible(user, "link.view", Case.objects.all())
    links = ProposedLink.objects.filter(source__in=cases, target__in=cases)
    return links.select_related("source", "target")
