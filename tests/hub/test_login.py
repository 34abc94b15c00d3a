"""Signing in: password rules, TOTP before any data, lockout and unlock, the same answer
for unknown users and wrong passwords, idle timeout, CSRF, headers, network allow-list."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts import lockout
from epitrace.hub.accounts.models import LockoutStreak, Role
from epitrace.hub.accounts.passwords import hash_is_listed
from epitrace.hub.accounts.roles import assign_role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.security import parse_networks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


def post(client: Client, url: str, body: dict[str, Any] | None = None, **extra: Any) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json", **extra)


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


# Password rules


def refusal_codes(password: str, username: str = "kim.minji") -> set[str]:
    try:
        validate_password(password, User(username=username))
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


def test_a_long_uncommon_password_is_accepted() -> None:
    assert refusal_codes("violet-harbour-lantern-47") == set()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pw-1", "password_too_short"),  # 10 characters
        ("password1234", "password_too_common"),
        ("kim.minji.2020", "password_too_similar"),
        ("739104826351", "password_entirely_numeric"),
    ],
)
def test_weak_passwords_are_refused(password: str, code: str) -> None:
    assert code in refusal_codes(password)


@pytest.fixture
def breached_list(tmp_path: Path, settings: Any) -> list[str]:
    breached = ["orange-submarine-1987", "correct horse battery staple", "monsoon-kettle-ferry"]
    filler = [hashlib.sha1(f"filler-{i}".encode()).hexdigest().upper() for i in range(500)]
    lines = sorted(filler + [hashlib.sha1(p.encode()).hexdigest().upper() for p in breached])
    path = tmp_path / "pwned.txt"
    path.write_text("".join(f"{line}:{n + 1}\r\n" for n, line in enumerate(lines)))
    settings.EPITRACE_BREACHED_PASSWORDS = str(path)
    return breached


def test_breached_passwords_are_refused_offline(breached_list: list[str]) -> None:
    for password in breached_list:
        assert "password_breached" in refusal_codes(password)
    assert refusal_codes("violet-harbour-lantern-47") == set()


def test_the_breached_list_is_binary_searched(breached_list: list[str], settings: Any) -> None:
    path = Path(settings.EPITRACE_BREACHED_PASSWORDS)
    hashes = [line.split(":")[0] for line in path.read_text().splitlines()]
    assert all(hash_is_listed(path, h) for h in hashes)  # first, last and all between
    assert not hash_is_listed(path, "0" * 40) and not hash_is_listed(path, "F" * 40)
    assert not hash_is_listed(path, hashes[10][:-1] + ("0" if hashes[10][-1] != "0" else "1"))


def test_the_api_refuses_a_weak_password(make_account: Any, signed_in: Any) -> None:
    admin = signed_in(make_account(Role.ADMINISTRATOR))
    response = post(
        admin,
        "/api/users",
        {"username": "lee", "password": "password123", "role": "auditor", "reason": "new"},
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="lee").exists()


# Second factor


def test_totp_is_required_before_any_data(log_in: Any, make_account: Any) -> None:
    make_account(Role.NATIONAL_INVESTIGATOR, username="park")
    client = Client()
    assert log_in(client, "park").json() == {"second_factor": "verify"}
    for url in ("/api/whoami", "/api/regions", "/api/regions/11140"):
        assert client.get(url).status_code == 401
    device = TOTPDevice.objects.get(user__username="park")
    assert post(client, "/api/otp/verify", {"token": current_code(device)}).status_code == 200
    assert client.get("/api/regions/11140").status_code == 200


def test_wrong_codes_are_refused_and_throttled(log_in: Any, make_account: Any) -> None:
    make_account(Role.NATIONAL_INVESTIGATOR, username="lim")
    client = Client()
    log_in(client, "lim")
    device = TOTPDevice.objects.get(user__username="lim")
    wrong = f"{(int(current_code(device)) + 1) % 10**6:06d}"
    assert post(client, "/api/otp/verify", {"token": wrong}).status_code == 401
    # django-otp doubles the wait after each failure: even the right code waits.
    assert post(client, "/api/otp/verify", {"token": current_code(device)}).status_code == 401
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(minutes=1)
    )
    assert post(client, "/api/otp/verify", {"token": current_code(device)}).status_code == 200
    assert AuditEntry.objects.filter(action="login.second_factor_failed", actor="lim").exists()


def test_first_sign_in_enrols_by_qr_code_and_gives_recovery_codes(log_in: Any, places: Any) -> None:
    user = User.objects.create_user("choi", password="violet-harbour-lantern-47")
    assign_role(user, Role.AUDITOR, by="setup", reason="test")
    client = Client()
    assert log_in(client, "choi").json() == {"second_factor": "enrol"}
    assert client.get("/api/audit/entries").status_code == 401
    enrolment = client.get("/api/otp/enrol").json()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/epitrace")
    assert enrolment["qr_code"].startswith("data:image/svg+xml;base64,")
    device = TOTPDevice.objects.get(user=user)
    codes = post(client, "/api/otp/enrol", {"token": current_code(device)}).json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert client.get("/api/audit/entries").status_code == 200
    # Enrolled: another device cannot be added by whoever knows the password.
    assert client.get("/api/otp/enrol").status_code == 403

    # A recovery code signs in once.
    post(client, "/api/logout")
    again = Client()
    assert log_in(again, "choi").json() == {"second_factor": "verify"}
    assert post(again, "/api/otp/verify", {"token": codes[0]}).status_code == 200
    third = Client()
    log_in(third, "choi")
    assert post(third, "/api/otp/verify", {"token": codes[0]}).status_code == 401


def test_enrolment_needs_the_password_step() -> None:
    assert Client().get("/api/otp/enrol").status_code == 401
    assert post(Client(), "/api/otp/verify", {"token": "123456"}).status_code == 401


# Lockout and the same answer


def test_unknown_user_and_wrong_password_get_the_same_answer(
    log_in: Any, make_account: Any
) -> None:
    make_account(Role.AUDITOR, username="han")
    wrong = log_in(Client(), "han", "not-the-password-at-all")
    unknown = log_in(Client(), "nobody-here", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content


def let_time_pass(minutes: float) -> None:
    """Move every sign-in attempt, expiry and lockout this far into the past."""
    delta = dt.timedelta(minutes=minutes)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)
    AccessAttemptExpiration.objects.update(expires_at=F("expires_at") - delta)
    LockoutStreak.objects.update(last_lockout=F("last_lockout") - delta)


def fail_five_times(log_in: Any, username: str, address: str) -> list[int]:
    return [
        log_in(Client(), username, f"wrong-guess-{i}", REMOTE_ADDR=address).status_code
        for i in range(5)
    ]


def test_finding_12_five_failures_lock_the_username_from_that_address_until_unlocked(
    log_in: Any, make_account: Any, signed_in: Any
) -> None:
    make_account(Role.AUDITOR, username="yoon")
    assert fail_five_times(log_in, "yoon", "127.0.0.2") == [401, 401, 401, 401, 403]
    locked = log_in(Client(), "yoon", REMOTE_ADDR="127.0.0.2")  # even the right password
    assert locked.status_code == 403 and "locked for 5 minutes" in locked.json()["error"]
    admin = signed_in(make_account(Role.ADMINISTRATOR))
    assert post(admin, "/api/users/yoon/unlock").status_code == 200
    assert log_in(Client(), "yoon", REMOTE_ADDR="127.0.0.2").status_code == 200
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"login.failed", "login.lockout", "account.unlock", "login.password"} <= actions


def test_finding_12_someone_guessing_elsewhere_does_not_lock_the_owner_out(
    log_in: Any, make_account: Any
) -> None:
    make_account(Role.ADMINISTRATOR, username="admin.park")
    fail_five_times(log_in, "admin.park", "127.0.0.66")
    assert log_in(Client(), "admin.park", REMOTE_ADDR="127.0.0.66").status_code == 403
    assert log_in(Client(), "admin.park", REMOTE_ADDR="127.0.0.10").status_code == 200


def test_finding_12_the_cool_off_doubles_with_each_lockout_and_then_lifts(
    log_in: Any, make_account: Any
) -> None:
    make_account(Role.AUDITOR, username="seo")
    told = []
    for minutes in (5, 10, 20):
        assert fail_five_times(log_in, "seo", "127.0.0.3")[-1] == 403
        answer = log_in(Client(), "seo", REMOTE_ADDR="127.0.0.3")
        told.append(answer.json()["error"])
        let_time_pass(minutes - 0.5)
        assert log_in(Client(), "seo", REMOTE_ADDR="127.0.0.3").status_code == 403
        let_time_pass(1)
    assert [text.split("locked for ")[1][:10] for text in told] == [
        "5 minutes,",
        "10 minutes",
        "20 minutes",
    ]
    # The cool-off is over: the right password signs in, and the doubling starts again.
    assert log_in(Client(), "seo", REMOTE_ADDR="127.0.0.3").status_code == 200
    assert not LockoutStreak.objects.filter(username="seo").exists()


def test_finding_12_the_cool_off_is_at_most_a_day_and_forgotten_after_one() -> None:
    assert [lockout.cool_off_after(n) for n in (0, 1, 2, 3)] == [
        dt.timedelta(minutes=m) for m in (5, 5, 10, 20)
    ]
    assert lockout.cool_off_after(40) == dt.timedelta(days=1)
    # A lockout more than a day after the last one starts again at 5 minutes.
    assert dt.timedelta(days=1) == lockout.STREAK_MEMORY


def test_finding_12_an_address_failing_across_usernames_is_throttled(
    log_in: Any, make_account: Any, settings: Any
) -> None:
    settings.EPITRACE_LOGIN_ADDRESS_LIMIT = 6
    make_account(Role.AUDITOR, username="lim")
    spray = [
        log_in(Client(), f"person-{i}", "Winter2020!", REMOTE_ADDR="127.0.0.4").status_code
        for i in range(8)
    ]
    assert spray == [401] * 7 + [429]
    refused = log_in(Client(), "lim", REMOTE_ADDR="127.0.0.4")  # a real account, too
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 4 * 60
    assert "try again in 5 minutes" in refused.json()["error"]
    assert log_in(Client(), "lim", REMOTE_ADDR="127.0.0.5").status_code == 200
    assert AuditEntry.objects.filter(action="login.throttled").exists()
    let_time_pass(5.5)
    assert log_in(Client(), "lim", REMOTE_ADDR="127.0.0.4").status_code == 200


def test_unknown_usernames_lock_alike(log_in: Any) -> None:
    answers = [log_in(Client(), "ghost", f"wrong-guess-{i}").status_code for i in range(6)]
    assert answers == [401, 401, 401, 401, 403, 403]


# Sessions


def test_idle_sessions_end_after_30_minutes(
    make_account: Any, signed_in: Any, settings: Any
) -> None:
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert "epitrace.hub.security.IdleTimeoutMiddleware" in settings.MIDDLEWARE
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + dt.timedelta(minutes=1)
    )
    assert client.get("/api/whoami").status_code == 200
    renewed = Session.objects.get(session_key=key).expire_date
    assert renewed > timezone.now() + dt.timedelta(minutes=29)  # activity renews the session
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get("/api/whoami").status_code == 401


def test_logout_ends_the_session(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.AUDITOR))
    assert post(client, "/api/logout").status_code == 200
    assert client.get("/api/whoami").status_code == 401


def test_csrf_is_enforced(log_in: Any, make_account: Any) -> None:
    make_account(Role.AUDITOR, username="jung")
    client = Client(enforce_csrf_checks=True)
    assert log_in(client, "jung").status_code == 403
    token = client.get("/api/csrf").json()["csrf_token"]
    assert log_in(client, "jung", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_cookies_and_headers_are_strict(log_in: Any, make_account: Any) -> None:
    make_account(Role.AUDITOR, username="kang")
    client = Client()
    response = log_in(client, "kang")
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    headers = client.get("/api/whoami").headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_plain_http_is_redirected_to_https_by_default(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/api/whoami")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    secure = Client().get("/api/whoami", secure=True)
    assert secure.status_code == 401 and "Strict-Transport-Security" in secure.headers


# The closed network


@pytest.fixture
def office_network(settings: Any) -> None:
    settings.EPITRACE_ALLOWED_NETWORKS = parse_networks("10.20.0.0/16, 192.168.7.7")
    settings.EPITRACE_TRUSTED_PROXIES = parse_networks("10.20.0.2")


def test_clients_outside_the_allowed_networks_get_403(log_in: Any, office_network: None) -> None:
    assert Client(REMOTE_ADDR="10.20.3.4").get("/api/whoami").status_code == 401
    assert Client(REMOTE_ADDR="192.168.7.7").get("/api/whoami").status_code == 401
    outside = Client(REMOTE_ADDR="203.0.113.9")
    assert outside.get("/api/whoami").status_code == 403
    assert log_in(outside, "anyone").status_code == 403


def test_behind_the_proxy_the_forwarded_client_counts(office_network: None) -> None:
    proxy = {"REMOTE_ADDR": "10.20.0.2"}
    assert Client(**proxy, HTTP_X_FORWARDED_FOR="10.20.3.4").get("/api/whoami").status_code == 401
    forged = "10.20.3.4, 203.0.113.9"  # the proxy appends the real client last
    assert Client(**proxy, HTTP_X_FORWARDED_FOR=forged).get("/api/whoami").status_code == 403
    # Only the trusted proxy's header is believed.
    spoofer = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.20.3.4")
    assert spoofer.get("/api/whoami").status_code == 403
