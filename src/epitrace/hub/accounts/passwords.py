"""The breached-password check, offline: the hub runs on a closed network.

With ``EPITRACE_BREACHED_PASSWORDS`` set, a password is refused when its SHA-1 is in
that file: one upper-case hex SHA-1 per line, sorted, optionally followed by
``:count`` (the layout of the offline "Pwned Passwords" download, hundreds of
millions of lines). The file is binary-searched on disk, never loaded. Unset,
Django's list of 20,000 common passwords (CommonPasswordValidator) stands in.

Also the life of a password: an administrator never chooses nor reads one. A new
account, or one an administrator resets, gets a one-time password the hub generates
and shows once; its owner must change it at the next sign-in (``TemporaryPassword``;
the policy refuses everything else until then), and owners change their own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

HASH_LENGTH = 40


def _line_at(handle: Any, offset: int) -> tuple[bytes, int]:
    """The first whole line starting at or after ``offset``, and where it starts."""
    handle.seek(max(offset - 1, 0))
    if offset > 0:
        handle.readline()  # skip to the first line starting at or after offset
    start = handle.tell()
    return handle.readline(), start


def hash_is_listed(path: Path, sha1_hex: str) -> bool:
    """Binary search for a SHA-1 in a sorted file of hashes (lines may carry ``:count``)."""
    wanted = sha1_hex.upper().encode()
    with path.open("rb") as handle:
        low, high = 0, os.fstat(handle.fileno()).st_size
        while low < high:
            middle = (low + high) // 2
            line, start = _line_at(handle, middle)
            if not line:  # ``middle`` fell in the last line: look before it
                high = middle
                continue
            listed = line[:HASH_LENGTH].upper()
            if listed == wanted:
                return True
            if listed < wanted:
                low = start + len(line)
            else:
                high = middle
    return False


class BreachedPasswordValidator:
    """Refuse a password found in the configured offline list of breached passwords."""

    def validate(self, password: str, user: object = None) -> None:
        listed = settings.EPITRACE_BREACHED_PASSWORDS
        if not listed:
            return
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest()
        if hash_is_listed(Path(listed), digest):
            raise ValidationError(
                "This password appears in a list of breached passwords.",
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return "Your password must not appear in a list of breached passwords."


# --- one-time passwords, changes and resets ---


def must_change_password(user: Any) -> bool:
    from epitrace.hub.accounts.models import TemporaryPassword

    return bool(user.is_authenticated and TemporaryPassword.objects.filter(user=user).exists())


def issue_one_time_password(user: Any, *, by: str, action: str) -> str:
    """Give ``user`` a fresh password generated here (shown once, kept only hashed) that
    must be changed at the next sign-in; ``action`` names it in the audit log."""
    from django.db import transaction
    from django.utils import timezone

    from epitrace.hub.accounts.models import TemporaryPassword
    from epitrace.hub.audit.chain import record

    password = secrets.token_urlsafe(15)  # 20 characters, about 120 bits
    with transaction.atomic():
        user.set_password(password)
        user.save()
        TemporaryPassword.objects.update_or_create(
            user=user, defaults={"issued_by": by, "issued_at": timezone.now()}
        )
        record(by, action, object_type="user", object_id=user.get_username())
    return password


def change_password(user: Any, current: str, new: str) -> None:
    """The owner's change: the current password, then Django's validators on the new one
    (ValidationError naming what is wrong); a one-time password is then used up."""
    from django.contrib.auth.password_validation import validate_password
    from django.db import transaction

    from epitrace.hub.accounts.models import TemporaryPassword
    from epitrace.hub.audit.chain import record

    if not user.check_password(current):
        raise ValidationError("the current password is wrong", code="password_incorrect")
    if new == current:
        raise ValidationError("the new password must differ from the current one")
    validate_password(new, user)
    with transaction.atomic():
        user.set_password(new)
        user.save()
        TemporaryPassword.objects.filter(user=user).delete()
        record(
            user.get_username(),
            "account.password_change",
            object_type="user",
            object_id=user.get_username(),
        )
