"""The administrator's account pages (issue #19): add an account, change its role or
region, revoke, unlock, reset the password or the second factor, approve a grant as a
second administrator — the same rules and the same audit entries as the JSON API
(accounts/management.py is their one home), CSRF on every form, Korean by default."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts.models import Role, RoleAssignment, RoleGrant, TemporaryPassword
from epitrace.hub.audit.models import AuditEntry

from .test_korean_pages import english_words, korean_account

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the Korean ones: test_korean_pages.py and
    ``test_the_pages_are_korean`` below)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def admins(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> dict[str, Any]:
    first = make_account(Role.ADMINISTRATOR, "admin-kim")
    second = make_account(Role.ADMINISTRATOR, "admin-lee")
    return {"first": signed_in(first), "second": signed_in(second)}


def actions(action: str, object_id: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, object_id=object_id))


def one_time_password(html: str) -> str:
    found = re.search(r'<code id="one-time-password">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


def test_an_account_added_with_a_role_that_sees_no_personal_data(admins: dict) -> None:
    answer = admins["first"].post(
        "/users", {"username": "auditor-park", "role": "auditor", "reason": "joins the audit team"}
    )
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    password = one_time_password(answer.content.decode())
    user = User.objects.get(username="auditor-park")
    assert user.check_password(password)  # shown once, to give its owner
    assert TemporaryPassword.objects.filter(user=user).exists()  # who must change it
    assert RoleAssignment.objects.get(user=user).role == Role.AUDITOR  # at once
    assert len(actions("account.create", "auditor-park")) == 1
    assert len(actions("role.grant", "auditor-park")) == 1


def test_a_role_that_sees_personal_data_waits_for_a_second_administrator(
    admins: dict,
) -> None:
    added = admins["first"].post(
        "/users",
        {"username": "inv-choi", "role": "national_investigator", "reason": "new investigator"},
    )
    assert 'id="grant-pending"' in added.content.decode()
    user = User.objects.get(username="inv-choi")
    assert not RoleAssignment.objects.filter(user=user).exists()
    grant = RoleGrant.objects.get(user=user, status=RoleGrant.Status.PENDING)
    # The asker sees it waiting, without a button; approving anyway is refused.
    listed = admins["first"].get("/users").content.decode()
    assert f'data-grant="{grant.pk}"' in listed and "Another administrator decides." in listed
    own = admins["first"].post(f"/role-grants/{grant.pk}/approve")
    assert own.status_code == 403
    assert "another administrator than its asker" in own.content.decode()
    # The second administrator approves from the list.
    assert (
        f'action="/role-grants/{grant.pk}/approve"'
        in admins["second"].get("/users").content.decode()
    )
    approved = admins["second"].post(f"/role-grants/{grant.pk}/approve")
    assert (
        approved.status_code == 302
        and approved["Location"] == "/users?done=approved#pending-grants"
    )
    assert RoleAssignment.objects.get(user=user).role == Role.NATIONAL_INVESTIGATOR
    assert [e.actor for e in actions("role.approve", "inv-choi")] == ["admin-lee"]
    again = admins["second"].post(f"/role-grants/{grant.pk}/refuse", {"reason": "too late"})
    assert again.status_code == 400 and "already approved" in again.content.decode()


def test_a_grant_refused_with_a_reason(admins: dict, make_account: Callable[..., Any]) -> None:
    make_account(None, "newcomer")
    admins["first"].post(
        "/users/newcomer/role", {"role": "police_approver", "reason": "joins the police desk"}
    )
    grant = RoleGrant.objects.get(user__username="newcomer")
    without = admins["second"].post(f"/role-grants/{grant.pk}/refuse", {"reason": " "})
    assert without.status_code == 400 and "a refusal needs a reason" in without.content.decode()
    refused = admins["second"].post(f"/role-grants/{grant.pk}/refuse", {"reason": "not needed"})
    assert refused.status_code == 302
    grant.refresh_from_db()
    assert grant.status == RoleGrant.Status.REFUSED and grant.decided_by == "admin-lee"


def test_the_region_is_chosen_from_a_list_grouped_by_sido(
    admins: dict, make_account: Callable[..., Any]
) -> None:
    make_account(Role.AUDITOR, "moving")
    page = admins["first"].get("/users/moving").content.decode()
    seoul = re.search(r'<optgroup label="서울특별시">(.*?)</optgroup>', page, re.S)
    assert seoul, "no group for Seoul"
    codes = re.findall(r'<option value="(\d+)"', seoul.group(1))
    assert codes[0] == "11" and "11140" in codes and all(c.startswith("11") for c in codes)
    assert "26110" in re.findall(r'<option value="(\d+)"', page)  # Busan's, in its group
    changed = admins["first"].post(
        "/users/moving/role",
        {"role": "regional_investigator", "region": "11", "reason": "covers all of Seoul"},
    )
    assert changed["Location"] == "/users/moving?done=asked"
    grant = RoleGrant.objects.get(user__username="moving")
    assert grant.region is not None and grant.region.code == "11"
    assert grant.region.level == "sido"


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"username": "bad name!"}, "a username is 1 to 150 letters"),
        ({"username": "admin-kim"}, "that username is taken"),
        ({"username": "x", "role": "astronaut", "reason": "r"}, "no role astronaut"),
        ({"username": "x", "role": "auditor"}, "a role change needs a reason"),
        (
            {"username": "x", "role": "regional_investigator", "region": "99", "reason": "r"},
            "no region 99",
        ),
        (
            {"username": "x", "role": "regional_investigator", "reason": "r"},
            "only one, is bound to a region",
        ),
    ],
)
def test_an_account_refused_says_why_and_adds_nothing(
    admins: dict, form: dict[str, str], problem: str
) -> None:
    answer = admins["first"].post("/users", form)
    assert answer.status_code == 400
    assert problem in answer.content.decode()
    assert not User.objects.filter(username="x").exists()
    assert not actions("account.create", "x")


def test_revoke_and_nobody_changes_their_own_role(
    admins: dict, make_account: Callable[..., Any]
) -> None:
    target = make_account(Role.AUDITOR, "leaving")
    assert admins["first"].post("/users/leaving/revoke", {"reason": ""}).status_code == 400
    done = admins["first"].post("/users/leaving/revoke", {"reason": "left the service"})
    assert done["Location"] == "/users/leaving?done=revoked"
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert len(actions("role.revoke", "leaving")) == 1
    own = admins["first"].post("/users/admin-kim/revoke", {"reason": "tired of it"})
    assert own.status_code == 403 and "nobody changes their own role" in own.content.decode()
    own_page = admins["first"].get("/users/admin-kim").content.decode()
    assert 'id="role-form"' not in own_page and 'id="password-reset-form"' not in own_page


def failed_sign_ins(username: str, address: str = "10.0.0.7") -> None:
    AccessAttempt.objects.create(
        username=username,
        ip_address=address,
        user_agent="test",
        http_accept="*/*",
        path_info="/login",
        get_data="",
        post_data="",
        failures_since_start=5,
    )


def test_a_locked_sign_in_is_listed_and_unlocked(
    admins: dict, make_account: Callable[..., Any]
) -> None:
    make_account(Role.AUDITOR, "forgetful")
    failed_sign_ins("forgetful")
    failed_sign_ins("nobody-by-this-name", "10.0.0.9")  # unknown usernames lock alike
    listed = admins["first"].get("/users").content.decode()
    assert "forgetful" in listed and "10.0.0.7" in listed and "nobody-by-this-name" in listed
    assert "10.0.0.7" in admins["first"].get("/users/forgetful").content.decode()
    done = admins["first"].post("/users/forgetful/unlock")
    assert done["Location"] == "/users/forgetful?done=unlocked"
    unknown = admins["first"].post("/users/nobody-by-this-name/unlock")
    assert unknown["Location"] == "/users?done=unlocked#lockouts"
    assert not AccessAttempt.objects.exists()
    (entry,) = actions("account.unlock", "forgetful")
    assert entry.detail["failed_attempts_cleared"] == 1 and entry.detail["ip"]


def test_a_password_reset_shows_a_new_one_time_password_once(
    admins: dict, make_account: Callable[..., Any]
) -> None:
    target = make_account(Role.AUDITOR, "lost-it")
    answer = admins["first"].post("/users/lost-it/password-reset")
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    target.refresh_from_db()
    assert target.check_password(one_time_password(answer.content.decode()))
    assert TemporaryPassword.objects.filter(user=target).exists()
    assert [e.actor for e in actions("account.password_reset", "lost-it")] == ["admin-kim"]
    own = admins["first"].post("/users/admin-kim/password-reset")
    assert own.status_code == 403


def test_a_second_factor_reset_removes_the_devices_and_ends_verified_sessions(
    admins: dict, make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    target = make_account(Role.AUDITOR, "lost-phone")
    session = signed_in(target)
    assert session.get("/audit").status_code == 200
    done = admins["first"].post("/users/lost-phone/second-factor-reset")
    assert done["Location"] == "/users/lost-phone?done=second-factor-reset"
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert session.get("/audit").status_code == 302  # back to the second factor
    (entry,) = actions("account.second_factor_reset", "lost-phone")
    assert entry.actor == "admin-kim" and entry.detail["devices_removed"] == 1
    own = admins["first"].post("/users/admin-kim/second-factor-reset")
    assert own.status_code == 403 and TOTPDevice.objects.filter(user__username="admin-kim")


def test_the_api_and_the_pages_record_the_same_entries(
    admins: dict, make_account: Callable[..., Any]
) -> None:
    make_account(Role.AUDITOR, "by-page")
    make_account(Role.AUDITOR, "by-api")
    admins["first"].post("/users/by-page/second-factor-reset")
    api = admins["first"].post("/api/users/by-api/second-factor-reset")
    assert api.status_code == 200 and api.json()["devices_removed"] == 1
    page, by_api = (
        actions("account.second_factor_reset", "by-page"),
        actions("account.second_factor_reset", "by-api"),
    )
    assert [(e.actor, e.role, e.detail) for e in page] == [
        (e.actor, e.role, e.detail) for e in by_api
    ]
    body = json.dumps({"username": "x y"})
    refused = admins["first"].post("/api/users", body, content_type="application/json")
    assert refused.status_code == 400 and "a username is 1 to 150" in refused.json()["error"]


def test_every_form_needs_the_csrf_token(make_account: Callable[..., Any]) -> None:
    from django_otp import DEVICE_ID_SESSION_KEY

    admin = make_account(Role.ADMINISTRATOR, "admin-kim")
    make_account(Role.AUDITOR, "target")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=admin).persistent_id
    session.save()
    page = client.get("/users/target").content.decode()
    forms = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page, re.S)
    assert len(forms) >= 4 and all("csrfmiddlewaretoken" in form for form in forms)
    for step in ("role", "revoke", "unlock", "password-reset", "second-factor-reset"):
        assert client.post(f"/users/target/{step}", {"reason": "x"}).status_code == 403
    assert client.post("/users", {"username": "sneaky"}).status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def test_the_pages_are_korean(
    admins: dict, make_account: Callable[..., Any], settings: Any, places: dict
) -> None:
    """With a pending grant, a locked sign-in and a role history (the seeded pages of
    test_korean_pages.py have none); names in Korean, as in service."""
    settings.LANGUAGE_CODE = "ko"
    for agency, name in (("carrier", "가통신사"), ("cards", "나카드")):
        places[agency].name = name
        places[agency].save()
    korean_account(Role.AUDITOR, "감사1", places)  # granted with a reason in Korean
    make_account(None, "신규")
    admins["first"].post("/users/신규/role", {"role": "police_approver", "reason": "경찰 담당"})
    admins["first"].post("/users/감사1/revoke", {"reason": "퇴직"})
    failed_sign_ins("감사1")
    for path in ("/users", "/users/감사1", "/users/신규"):
        html = admins["second"].get(path).content.decode()
        assert '<html lang="ko">' in html
        assert english_words(html.replace("admin-kim", "").replace("admin-lee", "")) == [], path
    refused = admins["first"].post(f"/role-grants/{RoleGrant.objects.get().pk}/approve")
    assert "권한 부여는 요청한 관리자가 아닌 다른 관리자가 승인합니다" in refused.content.decode()
