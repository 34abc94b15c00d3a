"""Signing in: password, then the TOTP second factor (enrolled on first sign-in).

The steps the JSON API (accounts/api.py) and the sign-in pages (accounts/views.py) share:

1. The password (Django's ``authenticate``). Unknown user and wrong password get the
   same answer; the 5th failure locks the username until an administrator unlocks it
   (``locked_out`` is django-axes' answer then).
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
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.audit.chain import record
from epitrace.hub.security import client_ip

RECOVERY_CODES = 10
LOCKED = {
    "error": "too many failed attempts: the account is locked until an administrator unlocks it"
}


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer to a locked-out username (unknown usernames lock alike):
    JSON for the API, the sign-in page with the reason for a person at a browser."""
    if request.path.startswith("/api/"):
        return JsonResponse(LOCKED, status=403)
    return render(
        request, "accounts/login.html", {"error": LOCKED["error"].capitalize() + "."}, status=403
    )


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
