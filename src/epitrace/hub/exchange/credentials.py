"""Agents' credentials: a random bearer token per agent, scoped to one agency.

The hub keeps only the token's SHA-256 (a 256-bit random token needs no slow hash:
there is nothing to guess). Revocation takes effect on the agent's next call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils import timezone

from epitrace.hub.accounts.models import Agency
from epitrace.hub.audit.chain import record
from epitrace.hub.exchange.models import AgentCredential


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(agency: Agency, by: str) -> str:
    """A new token for ``agency``'s agent, returned once (only its digest is kept)."""
    token = "ept_" + secrets.token_urlsafe(32)
    AgentCredential.objects.create(
        agency=agency, digest=_digest(token), hint=token[:8], issued_by=by
    )
    record(by, "agent.credential.issue", object_type="agency", object_id=agency.code)
    return token


def revoke_tokens(agency: Agency, by: str) -> int:
    """Revoke every live token of ``agency``; returns how many."""
    revoked = AgentCredential.objects.filter(agency=agency, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    record(
        by,
        "agent.credential.revoke",
        object_type="agency",
        object_id=agency.code,
        detail={"revoked": revoked},
    )
    return revoked


def agency_of_token(token: str) -> Agency | None:
    """The agency a live token belongs to; None for an unknown or revoked token."""
    if not token:
        return None
    credential = (
        AgentCredential.objects.select_related("agency")
        .filter(digest=_digest(token), revoked_at__isnull=True)
        .first()
    )
    # The lookup is by digest; compare again in constant time for good measure.
    if credential is None or not hmac.compare_digest(credential.digest, _digest(token)):
        return None
    return credential.agency
