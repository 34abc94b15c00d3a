"""The signed-in user's language and time zone, applied to every request.

LocaleMiddleware picks a language from the URL-less sources Django knows (the language
cookie, then Accept-Language, then ``LANGUAGE_CODE``); a saved preference overrides it.
Times are stored and computed in UTC; pages convert them to the user's zone through
Django's current time zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from epitrace.hub.web.models import LANGUAGE_CHOICES, Preference

LANGUAGES = {code for code, _ in LANGUAGE_CHOICES}
# The zones offered in the form: the usual ones for Korean staff, then UTC.
COMMON_TIME_ZONES = ["Asia/Seoul", "UTC", "Asia/Tokyo", "Europe/London", "America/New_York"]


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    return name in known_time_zones()


def default_time_zone() -> str:
    return settings.EPITRACE_LOCAL_TIME_ZONE


def preference_of(user: Any) -> Preference | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Preference.objects.filter(user=user).first()


def save_preference(user: Any, *, language: str, time_zone: str) -> Preference:
    """Store the user's choice; unknown values are refused (ValueError), never stored."""
    if language and language not in LANGUAGES:
        raise ValueError("language: unknown language")
    if time_zone and not is_time_zone(time_zone):
        raise ValueError("time_zone: unknown time zone")
    preference, _ = Preference.objects.update_or_create(
        user=user, defaults={"language": language, "time_zone": time_zone}
    )
    return preference


class PreferenceMiddleware:
    """After authentication: activate the user's language and time zone for the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        preference = preference_of(getattr(request, "user", None))
        if preference is not None and preference.language:
            translation.activate(preference.language)
            request.LANGUAGE_CODE = preference.language
        zone = (preference.time_zone if preference else "") or default_time_zone()
        timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        if preference is not None and preference.language:
            response.headers.setdefault("Content-Language", preference.language)
        return response
