"""Signing in: password, then the TOTP second factor (enrolled on first sign-in).

The steps the JSON API (accounts/api.py) and the sign-in pages (accounts/views.py) share:

1. The password (``check_password``, Django's ``authenticate``). Unknown user and wrong
   password get the same answer; the 5th failure locks the username from that address
   for a cool-off that grows with each lockout (``locked_out`` is django-axes' answer
   then), and an address that fails too often whatever the usernames is refused first
   (``address_refusal``); the rules are in accounts/lockout.py.
2. First sign-in: an unconfirmed TOTP device, its otpauth URI as a QR code
   (``qr_data_uri``); a valid code confirms it and gives the recovery codes once
   (``new_recovery_codes``). Afterwards: a TOTP code or a recovery code.
3. ``verified`` marks the session as fully signed in and records it.

Until step 3 the policy answers 401 to every data endpoint.
"""

from __future__ import annotations

import base64
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts import lockout
from epitrace.hub.audit.chain import record
from epitrace.hub.security import client_ip

RECOVERY_CODES = 10


def check_password(request: HttpRequest, username: str, password: str) -> Any | None:
    """The account whose password this is, or None (wrong, unknown, disabled or locked:
    django-axes answers a lockout itself through ``locked_out``)."""
    setattr(request, lockout.USERNAME_ATTRIBUTE, username)  # whose cool-off it is
    return authenticate(request, username=username, password=password)


def address_refusal(request: HttpRequest) -> HttpResponse | None:
    """429 when the client address has failed too many passwords lately, whatever the
    usernames (recorded in the audit log); None when it may try."""
    wait = lockout.address_wait(request)
    if wait is None:
        return None
    record("", "login.throttled", object_type="address", detail={"ip": client_ip(request)})
    message = _("Too many failed sign-ins from this address: try again in %(minutes)d minutes.") % {
        "minutes": lockout.minutes(wait)
    }
    response = _refusal(request, message, status=429)
    response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
    return response


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer to a locked-out username (unknown usernames lock alike)."""
    minutes = lockout.minutes(lockout.cool_off(request))
    message = _(
        "Too many failed attempts: sign-in to this account from this address is locked "
        "for %(minutes)d minutes, or until an administrator unlocks it."
    ) % {"minutes": minutes}
    return _refusal(request, message, status=403)


def _refusal(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    # JSON for the API, the sign-in page with the reason for a person at a browser.
    if request.path.startswith("/api/"):
        return JsonResponse({"error": message}, status=status)
    return render(request, "accounts/login.html", {"error": message}, status=status)


def has_confirmed_totp(user: Any) -> bool:
    """The account has enrolled its authenticator (so it verifies, not enrols)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def unconfirmed_device(user: Any) -> TOTPDevice:
    """The authenticator being enrolled (created on first ask)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "authenticator"}
    )
    return device


def qr_data_uri(text: str) -> str:
    """``text`` (the otpauth URI) as an SVG QR code in a data: URI."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the account's recovery codes; each works once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery", confirmed=True)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    device.token_set.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def record_own_step(request: HttpRequest, action: str, **detail: Any) -> None:
    """Record a step of the signed-in user on their own account, with their IP address."""
    record(
        request.user.get_username(),
        action,
        object_type="user",
        object_id=request.user.get_username(),
        detail={"ip": client_ip(request), **detail},
    )


def verified(request: HttpRequest, device: Any, action: str) -> None:
    """Both factors given: mark the session, give it a new id, record ``action``."""
    otp_login(request, device)
    request.session.cycle_key()  # a new session id once fully signed in
    record_own_step(request, action, device=type(device).__name__)


def second_factor_failed(request: HttpRequest) -> None:
    """Record a wrong second-factor code (the auditor sees guessing)."""
    record_own_step(request, "login.second_factor_failed")
