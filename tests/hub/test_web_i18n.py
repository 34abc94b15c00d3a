"""The Korean catalogue: the committed .mo says what the .po says, and the pages that
matter most are fully Korean for a Korean user."""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from epitrace.hub.accounts.models import Role

LOCALE = Path(__file__).parents[2] / "src/epitrace/hub/locale/ko/LC_MESSAGES"


def po_entries(text: str) -> dict[str, str]:
    """msgid -> msgstr (msgstr[0] for plurals) of a .po file; the header is left out."""
    entries = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[0\])?) (".*")$', line)
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = fields.get("msgstr", fields.get("msgstr[0]", ""))
    return entries


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    entries = po_entries((LOCALE / "django.po").read_text())
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert len(entries) > 100
    for msgid, msgstr in entries.items():
        assert msgstr, f"not translated: {msgid!r}"
        assert compiled.gettext(msgid) == msgstr, f"the .mo is stale for {msgid!r}"


@pytest.mark.django_db
def test_a_korean_user_sees_korean_pages(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    client.post("/preferences", {"language": "ko", "time_zone": ""})
    cases = client.get("/cases").content.decode()
    assert 'lang="ko"' in cases and "확진자 목록" in cases and "로그아웃" in cases
    assert "Confirmed cases" not in cases
    form = client.get("/cases/new").content.decode()
    assert "주민등록번호" in form and "National identity number" not in form
