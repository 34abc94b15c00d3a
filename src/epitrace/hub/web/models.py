"""Each user's display preferences: the pages' language and time zone.

Nothing personal: a language code and an IANA zone name per account.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

LANGUAGE_CHOICES = [("ko", "한국어"), ("en", "English")]


class Preference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    # Empty: the browser's language (Accept-Language), else the hub's default.
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, blank=True)
    # Empty: the hub's local zone (EPITRACE_LOCAL_TIME_ZONE).
    time_zone = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or '-'} {self.time_zone or '-'}"
