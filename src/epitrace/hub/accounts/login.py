"""Signing in: password, then the TOTP second factor (enrolled on first sign-in).

1. POST /api/login {"username", "password"} -> {"second_factor": "verify" | "enrol"}
   Unknown user and wrong password get the same 401; the 5th failure locks the
   username until an administrator unlocks it.
2. First sign-in: GET /api/otp/enrol -> the otpauth URI and its QR code (a data: URI);
   POST /api/otp/enrol {"token"} confirms the device and returns the recovery codes once.
   Afterwards: POST /api/otp/verify {"token"} with a TOTP code or a recovery code.
Until step 2 succeeds the policy answers 401 to every data endpoint.
"""

from __future__ import annotations

import base64
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib.auth import authenticate, logout
from django.contrib.auth import login as django_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.api import BadRequest, bad_request, body_of, field
from epitrace.hub.audit.chain import record
from epitrace.hub.policy import is_verified
from epitrace.hub.security import client_ip

RECOVERY_CODES = 10
INVALID_LOGIN = {"error": "invalid username or password"}
LOCKED = {
    "error": "too many failed attempts: the account is locked until an administrator unlocks it"
}


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer to a locked-out username (unknown usernames lock alike):
    JSON for the API, the sign-in page with the reason for a person at a browser."""
    if request.path.startswith("/api/"):
        return JsonResponse(LOCKED, status=403)
    from django.shortcuts import render

    return render(
        request, "web/login.html", {"error": LOCKED["error"].capitalize() + "."}, status=403
    )


@require_GET
def csrf(request: HttpRequest) -> JsonResponse:
    """The CSRF token for API clients (the cookie itself is HttpOnly)."""
    return JsonResponse({"csrf_token": get_token(request)})


def _has_confirmed_totp(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@require_POST
def login(request: HttpRequest) -> JsonResponse:
    try:
        data = body_of(request)
        username, password = field(data, "username"), field(data, "password")
    except BadRequest as error:
        return bad_request(error)
    user = authenticate(request, username=username, password=password)
    if user is None:
        # Wrong password, unknown or disabled account: one answer (lockout answered by axes).
        return JsonResponse(INVALID_LOGIN, status=401)
    django_login(request, user)
    return JsonResponse({"second_factor": "verify" if _has_confirmed_totp(user) else "enrol"})


def _password_step_done(request: HttpRequest) -> bool:
    return request.user.is_authenticated


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _new_recovery_codes(user: Any) -> list[str]:
    """Replace the account's recovery codes; each works once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery", confirmed=True)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    device.token_set.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _verified(request: HttpRequest, device: Any, action: str) -> None:
    otp_login(request, device)
    request.session.cycle_key()  # a new session id once fully signed in
    record(
        request.user.get_username(),
        action,
        object_type="user",
        object_id=request.user.get_username(),
        detail={"ip": client_ip(request), "device": type(device).__name__},
    )


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> JsonResponse:
    """First sign-in only: an account that already has a TOTP device cannot add another here."""
    if not _password_step_done(request):
        return JsonResponse({"error": "sign in with your password first"}, status=401)
    if _has_confirmed_totp(request.user):
        return JsonResponse({"error": "a second factor is already enrolled"}, status=403)
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": "authenticator"}
    )
    if request.method == "GET":
        uri = device.config_url
        return JsonResponse({"otpauth_uri": uri, "qr_code": _qr_data_uri(uri)})
    try:
        token = field(body_of(request), "token")
    except BadRequest as error:
        return bad_request(error)
    if not device.verify_token(token):
        return JsonResponse({"error": "invalid code"}, status=401)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(request.user)
    _verified(request, device, "login.enrolled")
    return JsonResponse({"recovery_codes": codes})


@require_POST
def verify(request: HttpRequest) -> JsonResponse:
    """The second factor: a TOTP code, or one of the recovery codes."""
    if not _password_step_done(request):
        return JsonResponse({"error": "sign in with your password first"}, status=401)
    try:
        token = field(body_of(request), "token")
    except BadRequest as error:
        return bad_request(error)
    device = match_token(request.user, token)
    if device is None:
        record(
            request.user.get_username(),
            "login.second_factor_failed",
            object_type="user",
            object_id=request.user.get_username(),
            detail={"ip": client_ip(request)},
        )
        return JsonResponse({"error": "invalid code"}, status=401)
    _verified(request, device, "login.verified")
    return JsonResponse({"verified": True})


@require_POST
def recovery_codes(request: HttpRequest) -> JsonResponse:
    """New recovery codes (the old ones stop working); needs a fully signed-in session."""
    if not is_verified(request.user):
        return JsonResponse({"error": "second factor required"}, status=401)
    codes = _new_recovery_codes(request.user)
    record(
        request.user.get_username(),
        "login.recovery_codes_renewed",
        object_type="user",
        object_id=request.user.get_username(),
        detail={"ip": client_ip(request)},
    )
    return JsonResponse({"recovery_codes": codes})


@require_POST
def sign_out(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse({"signed_out": True})
