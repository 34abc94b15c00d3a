"""The idle timeout: a page's background polls do not keep a session alive."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from epitrace.hub.accounts.models import Role
from epitrace.hub.security import BACKGROUND_POLL_HEADER

pytestmark = pytest.mark.django_db
POLL = {f"HTTP_{BACKGROUND_POLL_HEADER.upper().replace('-', '_')}": "1", "HTTP_HX_REQUEST": "true"}


def test_finding_13_background_polls_do_not_extend_the_session(
    make_account: Any, signed_in: Any
) -> None:
    """Issue #17, finding 13: the open request page polls every few seconds; those polls
    must not renew the 30-minute idle timeout, a person's requests still do."""
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    key = client.session.session_key
    soon = timezone.now() + dt.timedelta(minutes=2)
    Session.objects.filter(session_key=key).update(expire_date=soon)

    assert client.get("/api/whoami", **POLL).status_code == 200
    assert Session.objects.get(session_key=key).expire_date == soon  # not renewed
    assert client.get("/api/whoami").status_code == 200
    renewed = Session.objects.get(session_key=key).expire_date
    assert renewed > timezone.now() + dt.timedelta(minutes=29)

    # Once the session has ended, a poll tells the page to reload (and so to sign in).
    Session.objects.filter(session_key=key).update(expire_date=timezone.now())
    ended = client.get("/requests", **POLL)
    assert ended.status_code == 200 and ended.headers["HX-Refresh"] == "true"


def test_the_polling_fragments_say_they_are_background_polls() -> None:
    from pathlib import Path

    import epitrace.hub.exchange as exchange

    folder = Path(exchange.__file__).with_name("templates") / "exchange"
    for name in ("request_status.html", "hotspots_progress.html"):
        text = (folder / name).read_text()
        assert "hx-trigger" in text and BACKGROUND_POLL_HEADER in text, name
