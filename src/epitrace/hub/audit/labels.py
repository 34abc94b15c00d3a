"""What people read for the audit log's codes: its actions, the kinds of object and the
fields of an entry's detail, in the reader's language (the catalogue in hub/locale).

The log itself keeps the codes (``case.view``, ``datarequest``, ``{"allowed": true}``):
they are sealed, and the exports and the filters use them. Pages show these labels, the
code beside them where an auditor may want to type it into a filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# An action, as a noun phrase ("viewing a case"): it completes "you may not ..." too.
ACTIONS = {
    "account.create": gettext_noop("creating an account"),
    "account.password": gettext_noop("changing one's password"),
    "account.password_change": gettext_noop("a password change"),
    "account.password_reset": gettext_noop("a password reset"),
    "account.second_factor_reset": gettext_noop("a second-factor reset"),
    "account.unlock": gettext_noop("unlocking an account"),
    "account.whoami": gettext_noop("viewing one's own account"),
    "agency.provision": gettext_noop("provisioning an agency"),
    "agent.credential.issue": gettext_noop("issuing an agent's credential"),
    "agent.credential.revoke": gettext_noop("revoking an agent's credentials"),
    "agent.hello": gettext_noop("an agent's connection"),
    "audit.export": gettext_noop("exporting the audit log"),
    "audit.prune": gettext_noop("removing audit entries past retention"),
    "audit.read": gettext_noop("reading the audit log"),
    "audit.verify": gettext_noop("verifying the audit chain"),
    "case.create": gettext_noop("registering a case"),
    "case.created": gettext_noop("a case registered"),
    "case.list": gettext_noop("listing cases"),
    "case.search": gettext_noop("searching cases"),
    "case.searched": gettext_noop("a case search"),
    "case.view": gettext_noop("viewing a case's personal details"),
    "dashboard.view": gettext_noop("viewing the operations dashboard"),
    "disclosure.drafted": gettext_noop("drafting a public disclosure"),
    "disclosure.edited": gettext_noop("editing a disclosure entry"),
    "disclosure.expired": gettext_noop("disclosure entries expired"),
    "disclosure.included": gettext_noop("including a place in a disclosure"),
    "disclosure.merged": gettext_noop("merging disclosure entries"),
    "disclosure.prepare": gettext_noop("preparing a public disclosure"),
    "disclosure.publish": gettext_noop("publishing a public disclosure"),
    "disclosure.published": gettext_noop("a public disclosure published"),
    "disclosure.removed": gettext_noop("removing disclosure entries"),
    "disclosure.withdrawn": gettext_noop("withdrawing a disclosure entry"),
    "interview.attach": gettext_noop("uploading an interview"),
    "link.add": gettext_noop("adding a link between cases by hand"),
    "link.confirm": gettext_noop("confirming a link between cases"),
    "link.decide": gettext_noop("deciding on links between cases"),
    "link.reject": gettext_noop("rejecting a link between cases"),
    "link.view": gettext_noop("viewing links between cases"),
    "login.enrolled": gettext_noop("enrolling a second factor"),
    "login.failed": gettext_noop("a failed sign-in"),
    "login.lockout": gettext_noop("a sign-in lockout"),
    "login.password": gettext_noop("the password step of a sign-in"),
    "login.recovery_codes_renewed": gettext_noop("renewing recovery codes"),
    "login.second_factor_failed": gettext_noop("a wrong second-factor code"),
    "login.throttled": gettext_noop("sign-ins refused from an address"),
    "login.verified": gettext_noop("a sign-in completed"),
    "logout": gettext_noop("signing out"),
    "purge.run": gettext_noop("a purge run"),
    "region.view": gettext_noop("viewing regions"),
    "request.analysed": gettext_noop("a request analysed"),
    "request.answer": gettext_noop("an agency's answer"),
    "request.approve": gettext_noop("approving a data request"),
    "request.create": gettext_noop("making a data request"),
    "request.decline": gettext_noop("an agency declining a task"),
    "request.deliver": gettext_noop("sending a task to an agency"),
    "request.fail": gettext_noop("a data request failed"),
    "request.fulfil": gettext_noop("answering a data request"),
    "request.refuse": gettext_noop("refusing a data request"),
    "request.route": gettext_noop("routing a request to agencies"),
    "request.submit": gettext_noop("a data request made"),
    "request.view": gettext_noop("viewing data requests"),
    "result.export": gettext_noop("exporting analysis results"),
    "result.view": gettext_noop("viewing analysis results"),
    "retention.change": gettext_noop("changing retention periods"),
    "role.approve": gettext_noop("approving a role"),
    "role.change": gettext_noop("changing a role"),
    "role.grant": gettext_noop("granting a role"),
    "role.refuse": gettext_noop("refusing a role"),
    "role.request": gettext_noop("asking for a role"),
    "role.revoke": gettext_noop("revoking a role"),
    "role_history.read": gettext_noop("reading the role history"),
    "settings.manage": gettext_noop("managing the hub's settings"),
    "user.manage": gettext_noop("managing users"),
}
# Families of actions named by a prefix (an export's file, a destruction's kind).
FAMILIES = {
    "export.": gettext_noop("an export of analysis results"),
    "purge.": gettext_noop("a destruction at the end of retention"),
}
OBJECTS = {
    "address": gettext_noop("network address"),
    "agency": gettext_noop("agency"),
    "agencytask": gettext_noop("agency task"),
    "audit_log": gettext_noop("audit log"),
    "case": gettext_noop("case"),
    "datarequest": gettext_noop("data request"),
    "proposedlink": gettext_noop("link between cases"),
    "region": gettext_noop("region"),
    "retention": gettext_noop("retention"),
    "retention_settings": gettext_noop("retention settings"),
    "user": gettext_noop("user"),
}
# The fields of an entry's detail, as a reader names them.
FIELDS = {
    "allowed": gettext_noop("Allowed"),
    "answers": gettext_noop("Answers"),
    "case": gettext_noop("Case"),
    "case_id": gettext_noop("Case"),
    "changes": gettext_noop("Changes"),
    "computed_at": gettext_noop("Analysis of"),
    "contacts": gettext_noop("Contacts"),
    "entries": gettext_noop("Entries"),
    "expired_on": gettext_noop("Expired on"),
    "failed_attempts_cleared": gettext_noop("Failed attempts cleared"),
    "filters": gettext_noop("Filters"),
    "first_bad": gettext_noop("First failing entry"),
    "format": gettext_noop("Format"),
    "grant": gettext_noop("Role grant"),
    "ip": gettext_noop("IP address"),
    "job": gettext_noop("Job"),
    "kind": gettext_noop("Kind"),
    "kinds": gettext_noop("Data"),
    "left_out": gettext_noop("Left out"),
    "minutes": gettext_noop("Minutes"),
    "ok": gettext_noop("Intact"),
    "problem": gettext_noop("Problem"),
    "purpose": gettext_noop("Purpose"),
    "questions": gettext_noop("Questions"),
    "reason": gettext_noop("Reason"),
    "recompared": gettext_noop("Compared again"),
    "region": gettext_noop("Region"),
    "removed": gettext_noop("Removed"),
    "request": gettext_noop("Request"),
    "requested_by": gettext_noop("Asked by"),
    "retention_days": gettext_noop("Retention (days)"),
    "role_change": gettext_noop("Role change"),
    "role_before": gettext_noop("Role before"),
    "role_after": gettext_noop("Role after"),
    "region_before": gettext_noop("Region before"),
    "region_after": gettext_noop("Region after"),
    "agency": gettext_noop("Agency"),
    "agency_before": gettext_noop("Agency before"),
    "agency_after": gettext_noop("Agency after"),
    "tables": gettext_noop("Tables"),
    "destroyed": gettext_noop("Destroyed"),
    "revoked": gettext_noop("Revoked"),
    "role": gettext_noop("Role"),
    "rows": gettext_noop("Rows"),
    "rule": gettext_noop("Rule"),
    "stays": gettext_noop("Stays"),
    "status": gettext_noop("HTTP status"),
    "through_seq": gettext_noop("Through entry"),
    "widened": gettext_noop("Window widened"),
}
# Fields whose values are codes (a region's, an agency's, a format): shown as codes.
CODE_FIELDS = {
    "region", "region_before", "region_after", "agency", "agency_before", "agency_after",
    "format", "kind", "tables", "item", "job", "grant",
}  # fmt: skip
# What the hub itself writes into details, for the catalogue (cases/notes.py, policy.py).
SYSTEM_VALUES = (
    gettext_noop("not kept"),
    gettext_noop("destroyed with the case"),
    # the purposes the hub gives its own lookups (exchange/views.py)
    gettext_noop("data request form"),
    gettext_noop("export page"),
    gettext_noop("public disclosure"),
)
# Shown with their own column or not worth a reader's time.
NOT_SHOWN = {"purge_record", "steps", "started_at", "sha256", "item"}


def action_label(code: str) -> str:
    """The action ``code`` in the active language; the code itself if it has no label."""
    if code in ACTIONS:
        return _(ACTIONS[code])
    for prefix, label in FAMILIES.items():
        if code.startswith(prefix):
            return _(label)
    return code


def object_label(kind: str) -> str:
    """A kind of object (``case``, ``datarequest``) in the active language."""
    return _(OBJECTS[kind]) if kind in OBJECTS else kind


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return "; ".join(f"{_(FIELDS.get(k, k))}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        try:  # an instant stored as ISO text: in the reader's zone, as the page's times
            shown = timezone.localtime(dt.datetime.fromisoformat(value))
        except (ValueError, TypeError):
            return value
        return formats.date_format(shown, "Y-m-d H:i:s")
    if isinstance(value, str):
        # The hub's own words (a free text "not kept", a refusal's reason) in the reader's
        # language; anything else, typed by a person, as it was written.
        return _(value) if value else ""
    return "" if value is None else str(value)


def detail_items(
    detail: Any, formatters: dict[str, Callable[[Any], str]] | None = None
) -> list[tuple[str, str, bool]]:
    """An entry's detail as (label, text, is a code) triples a person reads, in the order
    stored; ``formatters`` name a field's values (a role's code by its label)."""
    if not isinstance(detail, dict):
        return [("", _value(detail), False)] if detail else []
    shown = formatters or {}
    return [
        (
            _(FIELDS.get(key, key)),
            shown[key](value) if key in shown else _value(value),
            key in CODE_FIELDS and key not in shown,
        )
        for key, value in detail.items()
        if key not in NOT_SHOWN and value not in ("", None, [], {})
    ]
