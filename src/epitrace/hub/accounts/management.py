"""An administrator's steps on accounts, one home for the JSON API (accounts/api.py) and
the pages (accounts/views.py): add an account, ask for a role, revoke it, unlock a
sign-in, reset the password or the second factor.

Callers have passed the policy (``user.manage``). The rules of roles (four eyes, a
reason, nobody changes their own) are in accounts/roles.py, those of passwords in
accounts/passwords.py and of lockouts in accounts/lockout.py; each step here is
recorded in the audit chain by them or here. A refusal is an ``AccountProblem``:
``AccountError`` (the input cannot be used: 400), ``FourEyesError`` or ``OwnAccount``
(not this administrator's to do: 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts import lockout
from epitrace.hub.accounts.models import Agency, Region, Role, RoleGrant
from epitrace.hub.accounts.passwords import issue_one_time_password
from epitrace.hub.accounts.regions import district_region
from epitrace.hub.accounts.roles import (
    NOT_OWN_ROLE,
    AccountProblem,
    FourEyesError,
    request_role,
    revoke_role,
)
from epitrace.hub.audit.chain import record


class AccountError(AccountProblem, ValueError):
    """The input cannot be used: an unknown role, region or agency, a username taken or
    not a username."""


class OwnAccount(AccountProblem, PermissionError):
    """A step an administrator never takes on their own account (its owner does)."""


USERNAME_RULE = gettext_noop("a username is 1 to 150 letters, digits and @ . + - _")


@dataclass(frozen=True)
class NewAccount:
    user: Any
    one_time_password: str  # shown once, to give its owner, who must change it
    grant: RoleGrant | None  # the role awaiting a second administrator, if one was asked


def role_named(code: str) -> Role:
    try:
        return Role(code)
    except ValueError:
        raise AccountError(gettext_noop("no role %(role)s"), role=code) from None


def region_named(code: str) -> Region | None:
    """The region of a 시군구 or 시도 code (added from the district data if the hub lacks
    it); None for an empty code."""
    if not code:
        return None
    region = district_region(code)
    if region is None:
        raise AccountError(gettext_noop("no region %(code)s"), code=code)
    return region


def agency_named(code: str) -> Agency | None:
    if not code:
        return None
    agency = Agency.objects.filter(code=code).first()
    if agency is None:
        raise AccountError(gettext_noop("no agency %(code)s"), code=code)
    return agency


def _checked_username(username: str) -> str:
    name = username.strip()
    field = get_user_model()._meta.get_field("username")
    try:
        field.run_validators(name)
    except ValidationError:
        raise AccountError(USERNAME_RULE) from None
    if not name or len(name) > field.max_length:
        raise AccountError(USERNAME_RULE)
    if get_user_model().objects.filter(username=name).exists():
        raise AccountError(gettext_noop("that username is taken"))
    return name


def ask_role(
    user: Any, role: str, *, by: str, reason: str, region: str = "", agency: str = ""
) -> RoleGrant | None:
    """Grant or change ``user``'s role (codes of the role, region and agency): None when
    it took effect at once, else the grant awaiting a second administrator."""
    asked = request_role(
        user,
        role_named(role),
        by=by,
        reason=reason,
        region=region_named(region),
        agency=agency_named(agency),
    )
    return asked if isinstance(asked, RoleGrant) else None


def create_account(
    username: str,
    *,
    by: str,
    email: str = "",
    role: str = "",
    reason: str = "",
    region: str = "",
    agency: str = "",
) -> NewAccount:
    """A new account with a one-time password the hub generates (``account.create``); a
    role, if asked, takes effect at once or awaits a second administrator. Nothing is
    created when any of it is refused."""
    name = _checked_username(username)
    with transaction.atomic():
        user = get_user_model().objects.create(username=name, email=email.strip())
        password = issue_one_time_password(user, by=by, action="account.create")
        grant = None
        if role:
            grant = ask_role(user, role, by=by, reason=reason, region=region, agency=agency)
    return NewAccount(user, password, grant)


def _not_own(user: Any, by: str, problem: str) -> None:
    if user.get_username() == by:
        raise OwnAccount(problem)


def revoke(user: Any, *, by: str, reason: str) -> None:
    """Take the role away at once (it only ever lowers access); never one's own."""
    if user.get_username() == by:
        raise FourEyesError(NOT_OWN_ROLE)
    revoke_role(user, by=by, reason=reason)


def unlock(username: str, *, by: str, ip: str) -> int:
    """Lift every lockout of ``username`` (from every address; unknown usernames lock
    alike) and start its doubling cool-off again (``account.unlock``). Returns the
    failed attempts cleared."""
    cleared = axes_reset(username=username)
    lockout.forget(username)
    record(
        by,
        "account.unlock",
        role=Role.ADMINISTRATOR,
        object_type="user",
        object_id=username,
        detail={"ip": ip, "failed_attempts_cleared": cleared},
    )
    return cleared


def reset_password(user: Any, *, by: str) -> str:
    """A new one-time password for someone who lost theirs, shown once
    (``account.password_reset``); never one's own (owners change theirs)."""
    _not_own(user, by, gettext_noop("change your own password at /password"))
    return issue_one_time_password(user, by=by, action="account.password_reset")


def reset_second_factor(user: Any, *, by: str) -> int:
    """Remove the account's authenticator and recovery codes for someone who lost both
    (``account.second_factor_reset``): its sessions stop being verified at once, and it
    enrols a new authenticator at its next sign-in. Never one's own. Returns the devices
    removed."""
    _not_own(user, by, gettext_noop("an administrator does not reset their own second factor"))
    with transaction.atomic():
        devices = [TOTPDevice.objects.filter(user=user), StaticDevice.objects.filter(user=user)]
        removed = sum(found.count() for found in devices)
        for found in devices:
            found.delete()
        record(
            by,
            "account.second_factor_reset",
            role=Role.ADMINISTRATOR,
            object_type="user",
            object_id=user.get_username(),
            detail={"devices_removed": removed},
        )
    return removed
