"""Every grant, change and revocation of a role is kept: append-only, and in the audit chain."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from epitrace.hub.accounts.models import ROLE_HISTORY_RETENTION, Role, RoleAssignment, RoleChange
from epitrace.hub.accounts.roles import RoleError, assign_role, revoke_role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(places: dict[str, Any]) -> list[RoleChange]:
    user = User.objects.create_user("seo")
    return [
        assign_role(user, Role.NATIONAL_INVESTIGATOR, by="admin1", reason="hired"),
        assign_role(
            user, Role.REGIONAL_INVESTIGATOR, by="admin2", reason="moved", region=places["busan"]
        ),
        revoke_role(user, by="admin1", reason="left"),
    ]


def test_grant_change_and_revocation_are_kept(history: list[RoleChange]) -> None:
    kept = list(RoleChange.objects.filter(username="seo"))
    assert [(c.kind, c.changed_by, c.role_before, c.role_after) for c in kept] == [
        ("grant", "admin1", "", "national_investigator"),
        ("change", "admin2", "national_investigator", "regional_investigator"),
        ("revoke", "admin1", "regional_investigator", ""),
    ]
    assert (kept[1].region_before, kept[1].region_after) == ("", "26110")
    assert (kept[2].region_before, kept[2].region_after) == ("26110", "")
    assert not RoleAssignment.objects.filter(user__username="seo").exists()


def test_each_change_also_goes_to_the_audit_chain(history: list[RoleChange]) -> None:
    entries = AuditEntry.objects.filter(object_type="user", object_id="seo").order_by("seq")
    assert [(e.action, e.actor) for e in entries] == [
        ("role.grant", "admin1"),
        ("role.change", "admin2"),
        ("role.revoke", "admin1"),
    ]
    assert entries[1].detail["reason"] == "moved" and entries[1].detail["region_after"] == "26110"
    assert verify_chain().ok


def test_history_cannot_be_edited_or_deleted(history: list[RoleChange]) -> None:
    change = history[0]
    change.reason = "rewritten"
    with pytest.raises(PermissionError):
        change.save()
    with pytest.raises(PermissionError):
        change.delete()
    with pytest.raises(PermissionError):
        RoleChange.objects.filter(username="seo").update(reason="rewritten")
    with pytest.raises(PermissionError):
        RoleChange.objects.all().delete()
    assert RoleChange.objects.filter(username="seo").count() == 3


def test_history_outlives_the_account(history: list[RoleChange]) -> None:
    User.objects.filter(username="seo").delete()
    assert RoleChange.objects.filter(username="seo").count() == 3


def test_history_is_kept_at_least_three_years() -> None:
    assert ROLE_HISTORY_RETENTION.days >= 3 * 365


def test_bindings_are_enforced(places: dict[str, Any]) -> None:
    user = User.objects.create_user("oh")
    with pytest.raises(RoleError):
        assign_role(user, Role.REGIONAL_INVESTIGATOR, by="a", reason="r")
    with pytest.raises(RoleError):
        assign_role(user, Role.AUDITOR, by="a", reason="r", region=places["seoul"])
    with pytest.raises(RoleError):
        assign_role(user, Role.PROVIDER_OPERATOR, by="a", reason="r")
    with pytest.raises(RoleError):
        assign_role(user, Role.AUDITOR, by="a", reason=" ")
    # The database refuses it too, should anything bypass accounts.roles.
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(
            user=user,
            role=Role.AUDITOR,
            region=places["seoul"],
            granted_at="2026-01-01T00:00Z",
            granted_by="a",
        )
    assert not RoleChange.objects.filter(username="oh").exists()


def test_auditor_and_admin_read_the_history(
    history: list[RoleChange], make_account: Any, signed_in: Any
) -> None:
    for role in (Role.AUDITOR, Role.ADMINISTRATOR):
        client = signed_in(make_account(role))
        changes = client.get("/api/users/seo/role-history").json()["changes"]
        assert [c["kind"] for c in changes] == ["grant", "change", "revoke"]
