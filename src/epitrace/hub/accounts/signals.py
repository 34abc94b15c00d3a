"""Sign-in events to the audit chain: login, logout, failed login, lockout."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from epitrace.hub.accounts import lockout
from epitrace.hub.audit.chain import record
from epitrace.hub.security import client_ip


def _ip(request: Any) -> dict[str, str]:
    return {"ip": client_ip(request)} if request is not None else {}


def _record_own_step(user: Any, action: str, request: Any) -> None:
    name = user.get_username()
    record(name, action, object_type="user", object_id=name, detail=_ip(request))


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # The password step; the second factor is recorded as login.verified.
    lockout.forget(user.get_username())
    _record_own_step(user, "login.password", request)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        _record_own_step(user, "logout", request)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # The name typed, which may not be an account: the auditor needs it to see guessing.
    username = str(credentials.get("username", ""))[:150]
    record(
        username, "login.failed", object_type="user", object_id=username[:64], detail=_ip(request)
    )


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    name = (username or "")[:150]
    detail = _ip(request)
    # django-axes sets the count only when this failure is the one that locks; a try
    # during the lockout is refused without it and does not lengthen the lockout.
    if getattr(request, "axes_failures_since_start", None) is not None:
        detail["minutes"] = str(lockout.minutes(lockout.note_lockout(request, name)))
    record(name, "login.lockout", object_type="user", object_id=name[:64], detail=detail)
