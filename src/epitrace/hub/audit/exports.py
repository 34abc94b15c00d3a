"""The audit log out of the hub: CSV, FHIR R4 AuditEvent, and the monthly review.

Read-only: these functions take entries and produce text; nothing here writes entries
except the caller's own record of the export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from epitrace.formats.writers import SpreadsheetSafeWriter, for_spreadsheets
from epitrace.hub.audit.models import AuditEntry

# Read by machines: times in UTC, and the column says so (pages show the local zone).
CSV_FIELDS = [
    *("seq", "time_utc", "actor", "role", "action", "object_type", "object_id", "ip", "detail")
]


def _ip(entry: AuditEntry) -> str:
    return str(entry.detail.get("ip", "")) if isinstance(entry.detail, dict) else ""


def to_csv(entries: Iterable[AuditEntry]) -> bytes:
    """The entries as a CSV file (UTF-8 with the byte-order mark Excel needs for Korean),
    times in UTC as the column says."""
    import json

    out = io.StringIO()
    writer = SpreadsheetSafeWriter(csv.writer(out))  # no live formula from data
    writer.writerow(CSV_FIELDS)
    for e in entries:
        writer.writerow(
            [
                *(e.seq, e.at.astimezone(dt.UTC).isoformat(), e.actor, e.role, e.action),
                *(e.object_type, e.object_id),
                *(_ip(e), json.dumps(e.detail, sort_keys=True, ensure_ascii=False)),
            ]
        )
    return for_spreadsheets(out.getvalue().encode())


# --- FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html) ---

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
NETWORK_IP = "2"  # AuditEventAgentNetworkType: IP address
ACTION_SYSTEM = "urn:epitrace:audit-action"
ROLE_SYSTEM = "urn:epitrace:role"
OBJECT_SYSTEM = "urn:epitrace:object"
# Stable resource ids: a UUID derived from each entry's seal (the same entry, the same id).
NAMESPACE = uuid.UUID("6b1c1b57-3f44-4d0b-9a3c-2f1f7c0e9a11")


def _event_type(action: str) -> dict[str, str]:
    """The AuditEvent.type (required, extensible) for one of the hub's actions."""
    if action.startswith(("login.", "logout")):
        return {"system": DICOM, "code": "110114", "display": "User Authentication"}
    if action.endswith(".export") or "download" in action:
        return {"system": DICOM, "code": "110106", "display": "Export"}
    if action.startswith("audit."):
        return {"system": DICOM, "code": "110101", "display": "Audit Log Used"}
    if action.startswith("role."):
        return {"system": DICOM, "code": "110136", "display": "Security Roles Changed"}
    if action.startswith(("account.", "user.")):
        return {"system": DICOM, "code": "110137", "display": "User Security Attributes Changed"}
    return {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}


def _action_code(action: str) -> str:
    """AuditEvent.action: C create, R read, U update, D delete, E execute."""
    verb = action.rsplit(".", 1)[-1]
    if verb in {"create", "grant", "enrolled"}:
        return "C"
    if verb in {"view", "list", "search", "read", "export", "whoami"}:
        return "R"
    if verb in {"change", "revoke", "approve", "fulfil", "unlock"}:
        return "U"
    if verb in {"purge", "delete"}:
        return "D"
    return "E"


def _outcome(entry: AuditEntry) -> str:
    """0 success, 4 minor failure (refused, wrong code), 8 serious failure."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    if detail.get("allowed") is False or entry.action.endswith(("failed", "lockout")):
        return "4"
    return "0"


def _agent(entry: AuditEntry) -> dict[str, object]:
    agent: dict[str, object] = {
        "who": {"identifier": {"system": "urn:epitrace:user", "value": entry.actor or "anonymous"}},
        "requestor": True,
    }
    if entry.role:
        agent["role"] = [{"coding": [{"system": ROLE_SYSTEM, "code": entry.role}]}]
    if _ip(entry):
        agent["network"] = {"address": _ip(entry), "type": NETWORK_IP}
    return agent


def audit_event(entry: AuditEntry) -> dict[str, object]:
    """One entry as a FHIR R4 AuditEvent resource."""
    event: dict[str, object] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid5(NAMESPACE, entry.seal)),
        "type": _event_type(entry.action),
        "subtype": [{"system": ACTION_SYSTEM, "code": entry.action}],
        "action": _action_code(entry.action),
        "recorded": entry.at.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
        "outcome": _outcome(entry),
        "agent": [_agent(entry)],
        "source": {
            "observer": {"display": "epitrace hub"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    if entry.object_type or entry.object_id:
        entity: dict[str, object] = {
            "type": {"system": OBJECT_SYSTEM, "code": entry.object_type or "object"}
        }
        if entry.object_id:  # FHIR forbids empty strings: no id, no identifier (issue #19)
            system = f"{OBJECT_SYSTEM}:{entry.object_type or 'object'}"
            entity["what"] = {"identifier": {"system": system, "value": entry.object_id}}
        event["entity"] = [entity]
    purpose = entry.detail.get("purpose") if isinstance(entry.detail, dict) else None
    if purpose:
        event["purposeOfEvent"] = [{"text": str(purpose)}]
    return event


def to_fhir_bundle(entries: Iterable[AuditEntry]) -> dict[str, object]:
    """A Bundle (type collection) of AuditEvent resources, one per entry, in chain order."""
    resources = [audit_event(e) for e in entries]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "total": len(resources),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


# --- the monthly review: unusual access ---

WORKING_HOURS = range(8, 20)  # 08:00-19:59 local time
# Sign-in steps are not access to data; everything else an account does counts.
NOT_ACCESS = ("login.", "logout")
EXPORT_WORDS = ("export", "download")


@dataclass
class MonthlyReview:
    month: str
    entries: int
    per_user: list[tuple[str, int]]
    outliers: list[tuple[str, int]]
    off_hours: list[AuditEntry] = field(default_factory=list)
    exports: list[AuditEntry] = field(default_factory=list)
    median: float = 0.0


def month_bounds(month: str, zone: str = "UTC") -> tuple[dt.datetime, dt.datetime]:
    """'2026-11' -> [first instant, first instant of the next month) of the month in
    ``zone`` (the review's months are the hub's local months)."""
    first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=ZoneInfo(zone))
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following


def volume_outliers(counts: dict[str, int]) -> tuple[list[tuple[str, int]], float]:
    """Accounts far above the others: robust z-score (median, MAD) above 3.5, or, when
    most accounts did the same amount (MAD 0), more than 3x the median."""
    if not counts:
        return [], 0.0
    values = list(counts.values())
    median = statistics.median(values)
    mad = statistics.median([abs(v - median) for v in values])
    flagged = []
    for user, n in counts.items():
        unusual = (n - median) / (1.4826 * mad) > 3.5 if mad else n > 3 * max(median, 1)
        if unusual and n >= 10:  # a handful of accesses is never a volume outlier
            flagged.append((user, n))
    return sorted(flagged, key=lambda item: -item[1]), float(median)


def monthly_review(entries: Iterable[AuditEntry], month: str, local_tz: str) -> MonthlyReview:
    zone = ZoneInfo(local_tz)
    access = [e for e in entries if e.actor and not e.action.startswith(NOT_ACCESS)]
    counts = Counter(e.actor for e in access)
    outliers, median = volume_outliers(dict(counts))
    return MonthlyReview(
        month=month,
        entries=len(access),
        per_user=counts.most_common(),
        outliers=outliers,
        off_hours=[e for e in access if e.at.astimezone(zone).hour not in WORKING_HOURS],
        exports=[e for e in access if any(w in e.action for w in EXPORT_WORDS)],
        median=median,
    )
