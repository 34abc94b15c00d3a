"""Account management on screen, in Korean (issue #19): an administrator adds an account
with a role that sees personal data, a second administrator approves its grant, and the
new account's owner signs in with the one-time password shown once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts.models import Role, RoleAssignment, RoleGrant
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.web.models import Preference

from .conftest import serious_violations, sign_in

pytestmark = pytest.mark.browser
NEW_PASSWORD = "amber-lighthouse-thistle-93"


def test_an_account_added_and_its_role_approved_by_a_second_administrator(
    contexts: Any, live_hub: str, account: Any, shots: Path
) -> None:
    first = account("admin-kim", Role.ADMINISTRATOR)
    second = account("admin-lee", Role.ADMINISTRATOR)
    for admin in (first, second):
        Preference.objects.create(user=admin, language="ko")

    # The first administrator adds the account, a national investigator: asked, not given.
    page = sign_in(contexts, live_hub, first)
    page.click("nav >> text=사용자와 권한")
    page.wait_for_selector("#add-account")
    page.fill("#new-username", "inv-choi")
    page.select_option("#new-role", "national_investigator")
    page.fill("#new-reason", "중앙 역학조사반 신규 배치")
    assert not serious_violations(page)
    page.screenshot(path=str(shots / "users-ko.png"), full_page=False)
    page.click("#add-account button[type=submit]")
    page.wait_for_selector("#one-time-password")
    assert "다른 관리자가 승인해야" in page.locator("#grant-pending").inner_text()
    one_time = page.locator("#one-time-password").inner_text()
    assert len(one_time) >= 16
    assert not RoleAssignment.objects.filter(user__username="inv-choi").exists()
    page.goto(f"{live_hub}/users")
    row = page.locator("#pending-grants tr", has_text="inv-choi")
    assert "다른 관리자가 결정합니다." in row.inner_text()  # not the asker's to approve

    # The second administrator approves it from the list.
    other = sign_in(contexts, live_hub, second)
    other.goto(f"{live_hub}/users")
    grant = RoleGrant.objects.get(user__username="inv-choi")
    other.locator(f"#pending-grants tr[data-grant='{grant.pk}'] button.approve").click()
    other.wait_for_selector("#done")
    assert other.locator("#done").inner_text() == "권한을 승인했으며 이제 적용됩니다."
    assert other.locator("#pending-grants").inner_text().count("inv-choi") == 0
    users = other.locator("#users tr", has_text="inv-choi").inner_text()
    assert "중앙 역학조사관" in users or "역학조사관" in users
    assert RoleAssignment.objects.get(user__username="inv-choi").role == (
        Role.NATIONAL_INVESTIGATOR
    )
    assert AuditEntry.objects.get(action="role.approve", object_id="inv-choi").actor == "admin-lee"
    assert not serious_violations(other)

    # The account page: the role history says who asked and who approved.
    other.click("#users a:text('inv-choi')")
    other.wait_for_selector("#role-history")
    history = other.locator("#role-history").inner_text()
    assert "admin-lee" in history and "부여" in history
    other.screenshot(path=str(shots / "account-ko.png"), full_page=False)

    # Its owner signs in with the one-time password, chooses their own, enrols a device.
    owner = contexts().new_page()
    owner.goto(f"{live_hub}/login")
    owner.fill("#username", "inv-choi")
    owner.fill("#password", one_time)
    owner.click("main button[type=submit]")
    owner.wait_for_url(f"{live_hub}/enrol")
    device = TOTPDevice.objects.get(user__username="inv-choi", confirmed=False)
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    owner.fill("input[name=token]", f"{code:0{device.digits}d}")
    owner.click("main button[type=submit]")
    owner.wait_for_selector("ul.codes li")
    # Nothing before the one-time password is changed.
    assert owner.goto(f"{live_hub}/cases").status == 403
    owner.goto(f"{live_hub}/password")
    owner.fill("#current", one_time)
    owner.fill("#new", NEW_PASSWORD)
    owner.click("main button[type=submit]")
    owner.wait_for_selector("p[role=status]")
    assert owner.goto(f"{live_hub}/cases").status == 200
