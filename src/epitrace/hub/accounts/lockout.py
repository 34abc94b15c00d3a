"""When failed passwords lock sign-in, and for how long (django-axes does the counting).

- **A username from one address**: the 5th failed password for a username from one
  client address locks that pair (unknown usernames alike, so nothing tells which
  accounts exist) for ``EPITRACE_LOGIN_COOLOFF_MINUTES``; each further lockout of the
  same pair within a day of the last doubles it, up to a day. A person signing in from
  their own office is not locked out by someone guessing from elsewhere; an
  administrator can lift a lockout at once.
- **An address, whatever the usernames**: more than ``EPITRACE_LOGIN_ADDRESS_LIMIT``
  failed passwords from one client address within one base cool-off and that address
  is refused (429) until the cool-off has passed — password spraying across accounts.

django-axes calls :func:`cool_off` (``AXES_COOLOFF_TIME``) and keeps each attempt until
its own expiry (``AXES_USE_ATTEMPT_EXPIRATION``), so one pair's long cool-off is not cut
short by another's short one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessAttemptExpiration
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

from epitrace.hub.accounts.models import LockoutStreak
from epitrace.hub.security import client_ip

LONGEST_COOL_OFF = dt.timedelta(days=1)
# A lockout more than this after the previous one starts the doubling again.
STREAK_MEMORY = dt.timedelta(days=1)
# The attribute the sign-in views set so that the cool-off knows whose streak it is
# (django-axes passes the cool-off callable the request alone).
USERNAME_ATTRIBUTE = "epitrace_login_username"


def base_cool_off() -> dt.timedelta:
    """The first lockout's cool-off."""
    return dt.timedelta(minutes=settings.EPITRACE_LOGIN_COOLOFF_MINUTES)


def cool_off(request: HttpRequest | None) -> dt.timedelta:
    """django-axes' cool-off for the username and address of ``request``: the base
    cool-off after the first lockout, doubled for each further lockout within a day,
    at most a day. Never raises (no request: the base)."""
    if request is None:
        return base_cool_off()
    return cool_off_after(_recent_lockouts(_username(request), client_ip(request)))


def cool_off_after(lockouts: int) -> dt.timedelta:
    """The cool-off that follows the ``lockouts``-th lockout in a row (1 for the first)."""
    doublings = min(max(lockouts, 1) - 1, 30)
    return min(base_cool_off() * 2**doublings, LONGEST_COOL_OFF)


def note_lockout(request: HttpRequest, username: str) -> dt.timedelta:
    """Count a new lockout of ``username`` from the request's address and make the
    attempts that caused it last for the grown cool-off. Returns that cool-off."""
    address = client_ip(request) or None
    now = timezone.now()
    with transaction.atomic():
        streak, _ = LockoutStreak.objects.select_for_update().get_or_create(
            username=username, ip_address=address, defaults={"last_lockout": now}
        )
        recent = streak.lockouts if now - streak.last_lockout <= STREAK_MEMORY else 0
        streak.lockouts, streak.last_lockout = recent + 1, now
        streak.save()
    length = cool_off_after(streak.lockouts)
    AccessAttemptExpiration.objects.filter(
        access_attempt__username=username, access_attempt__ip_address=address
    ).update(expires_at=now + length)
    return length


def forget(username: str) -> None:
    """Start the doubling again for ``username`` (signed in, or unlocked by an
    administrator)."""
    LockoutStreak.objects.filter(username=username).delete()


def address_wait(request: HttpRequest) -> dt.timedelta | None:
    """How long the request's client address must wait before it may try a password
    again, when it has failed more than ``EPITRACE_LOGIN_ADDRESS_LIMIT`` times within
    the base cool-off across all usernames; None when it may try now."""
    window = base_cool_off()
    since = timezone.now() - window
    recent = AccessAttempt.objects.filter(ip_address=client_ip(request), attempt_time__gte=since)
    failures = recent.aggregate(total=Sum("failures_since_start"))["total"] or 0
    if failures <= settings.EPITRACE_LOGIN_ADDRESS_LIMIT:
        return None
    latest = recent.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
    return (latest or timezone.now()) + window - timezone.now()


@dataclass(frozen=True)
class Lockout:
    """A username locked from one address, until when."""

    username: str
    address: str
    failures: int
    until: dt.datetime


def current_lockouts(username: str | None = None) -> list[Lockout]:
    """The username–address pairs locked now (``AXES_FAILURE_LIMIT`` failed passwords, the
    cool-off not over), latest first; only ``username``'s when given. For the
    administrator who unlocks (accounts/management.py)."""
    now = timezone.now()
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if username is not None:
        attempts = attempts.filter(username=username)
    found = []
    for attempt in attempts.select_related("expiration").order_by("-attempt_time"):
        try:
            until = attempt.expiration.expires_at
        except AccessAttemptExpiration.DoesNotExist:
            until = attempt.attempt_time + base_cool_off()
        if until > now:
            address = attempt.ip_address or ""
            found.append(
                Lockout(attempt.username or "", address, attempt.failures_since_start, until)
            )
    return found


def minutes(length: dt.timedelta) -> int:
    """A wait in whole minutes, rounded up, as people are told it."""
    return max(1, math.ceil(length.total_seconds() / 60))


def _username(request: HttpRequest) -> str:
    return str(getattr(request, USERNAME_ATTRIBUTE, "") or request.POST.get("username", ""))


def _recent_lockouts(username: str, address: str) -> int:
    streak = LockoutStreak.objects.filter(username=username, ip_address=address or None).first()
    if streak is None or timezone.now() - streak.last_lockout > STREAK_MEMORY:
        return 0
    return streak.lockouts
