"""Template helpers of the hub's pages: the navigation a role may use, the language switch,
the time zone times are shown in, and the labels of codes (roles, the audit log's actions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from epitrace.hub import policy
from epitrace.hub.accounts.roles import role_label
from epitrace.hub.audit import labels
from epitrace.hub.exchange.workflow import kinds_in_words, unread_notifications
from epitrace.hub.retention.rules import rule_label
from epitrace.hub.web.models import LANGUAGE_CHOICES
from epitrace.hub.web.windows import window_text

register = template.Library()

# (action the policy decides, address, label): a link shows only if the role may use it.
NAVIGATION = [
    ("case.list", "/cases", _("Cases")),
    ("case.list", "/hotspots", _("Hotspots")),
    ("dashboard.view", "/dashboard", _("Dashboard")),
    ("request.view", "/requests", _("Data requests")),
    ("region.view", "/regions", _("Regions")),
    ("user.manage", "/users", _("Users and roles")),
    ("audit.read", "/audit", _("Audit log")),
]


@register.simple_tag(takes_context=True)
def navigation(context: dict[str, Any]) -> list[tuple[str, str]]:
    request = context.get("request")
    user = getattr(request, "user", None)
    # Only accounts holding a role have pages to go to (and notifications to read).
    if user is None or not policy.is_verified(user) or policy.assignment_of(user) is None:
        return []
    links = []
    for action, url, label in NAVIGATION:
        if policy.permits(user, action):
            links.append((url, str(label)))
    unread = unread_notifications(user)
    label = str(_("Notifications"))
    links.append(("/notifications", f"{label} ({unread})" if unread else label))
    return links


@register.simple_tag
def language_choices() -> list[tuple[str, str]]:
    return LANGUAGE_CHOICES


@register.simple_tag
def time_zone_label() -> str:
    """The zone the page's times are in, as a reader knows it: ``KST, UTC+09:00``."""
    now = timezone.localtime(timezone.now())
    offset = now.strftime("%z")
    name = now.tzname() or ""
    shown = f"UTC{offset[:3]}:{offset[3:]}"
    return shown if name in ("", "UTC") or name.startswith(("+", "-")) else f"{name}, {shown}"


@register.simple_tag
def window(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """A window [start, end) in the page's zone, a window of whole days as its first and
    last day (``web.windows.window_text``)."""
    if start is None or end is None:
        return "—"
    return window_text(start, end, timezone.get_current_timezone())


@register.filter(name="role_label")
def role_label_filter(code: str) -> str:
    return role_label(code or "")


@register.filter
def action_label(code: str) -> str:
    return labels.action_label(code or "")


@register.filter
def object_label(kind: str) -> str:
    return labels.object_label(kind or "")


def _roles(value: Any) -> str:
    return role_label(str(value))


# Values of an audit entry's detail that other apps name (roles, kinds, retention rules).
DETAIL_FORMATTERS = {
    "role": _roles,
    "role_before": _roles,
    "role_after": _roles,
    "kinds": lambda value: kinds_in_words(value if isinstance(value, list) else [str(value)]),
    "rule": lambda value: rule_label(str(value)),
}


@register.filter
def detail_items(detail: Any) -> list[tuple[str, str, bool]]:
    return labels.detail_items(detail, DETAIL_FORMATTERS)
