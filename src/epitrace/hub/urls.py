"""URL routes of the hub (the web interface arrives with the accounts and cases apps)."""

from __future__ import annotations

urlpatterns: list[object] = []
