"""Free text about a case (purposes, justifications, reasons), kept with the case's data.

People fill these fields with names and phone numbers ("calling Kim at 010-..."). The
audit log outlives the case by design, so the text must not be in it: ``sealed_texts``
seals each text under the key of every case it concerns (a ``CaseNote``) and gives the
audit entry a random reference in its place, ``{"note": "<ref>"}``. The entry's seal
covers the reference, never the text, so the chain verifies before and after a purge.
The purge destroys the case's key and then, by cascade, the note: the auditor who read
the purpose while the case existed now reads ``"destroyed with the case"``.

An entry that concerns no case (a failed sign-in, a settings change, an audit export, a
search that found nothing) keeps none of the text: ``"not kept"``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from epitrace.hub import crypto
from epitrace.hub.cases.models import Case, CaseKey, CaseNote
from epitrace.hub.cases.records import decrypt_for_case, encrypt_for_case

NOT_KEPT = "not kept"
DESTROYED = "destroyed with the case"


def _label(ref: str) -> str:
    return f"note:{ref}"


def case_of(obj: Any) -> Case | None:
    """The case an object of a decision belongs to (a case, a request, a task, a result,
    a disclosure, ...), or None."""
    for _ in range(3):
        if obj is None or isinstance(obj, Case):
            return obj
        obj = getattr(obj, "case", None) or getattr(obj, "request", None)
    return None


def sealed_texts(cases: Iterable[Case | None], **texts: str) -> dict[str, object]:
    """Audit-detail fields for ``texts`` (e.g. ``purpose=...``): each text sealed under the
    key of every one of ``cases`` whose key still exists, named by reference."""
    given = {name: text.strip() for name, text in texts.items() if text and text.strip()}
    if not given:
        return {}
    alive = {case.pk: case for case in cases if case is not None}
    keyed = set(CaseKey.objects.filter(case_id__in=alive).values_list("case_id", flat=True))
    if not keyed:
        return dict.fromkeys(given, NOT_KEPT)
    detail: dict[str, object] = {}
    with transaction.atomic():
        for name, text in given.items():
            ref = secrets.token_hex(16)
            CaseNote.objects.bulk_create(
                CaseNote(
                    case=alive[pk],
                    ref=ref,
                    text_enc=encrypt_for_case(alive[pk], _label(ref), text.encode()),
                )
                for pk in sorted(keyed)
            )
            detail[name] = {"note": ref}
    return detail


def _ref(value: object) -> str | None:
    if isinstance(value, dict) and set(value) == {"note"} and isinstance(value["note"], str):
        return value["note"]
    return None


def _texts(refs: set[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    notes = CaseNote.objects.filter(ref__in=refs).select_related("case").order_by("id")
    for note in notes:
        if note.ref in texts:
            continue
        try:
            plain = decrypt_for_case(note.case, _label(note.ref), bytes(note.text_enc))
        except (crypto.KeyDestroyed, crypto.Undecryptable):
            continue
        texts[note.ref] = plain.decode()
    return texts


def shown_details(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of audit details with each note reference replaced by its text while one of
    its cases exists, or by ``"destroyed with the case"`` (for auditors' pages, the API
    and exports; the stored entries are never changed)."""
    refs = {
        ref
        for detail in details
        if isinstance(detail, dict)
        for value in detail.values()
        if (ref := _ref(value))
    }
    texts = _texts(refs) if refs else {}
    shown = []
    for detail in details:
        if not isinstance(detail, dict):
            shown.append(detail)
            continue
        shown.append(
            {
                name: (texts.get(ref, DESTROYED) if (ref := _ref(value)) else value)
                for name, value in detail.items()
            }
        )
    return shown


def shown_detail(detail: dict[str, Any]) -> dict[str, Any]:
    return shown_details([detail])[0]
