"""The embedded default, end to end: the hub's real SQLite file in EPITRACE_HOME, a case
registered, `epitrace purge` run from the command line, then the file read byte for
byte (and every other file the hub keeps: journals, case folders) for what was purged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from purge_cases import CARD_NUMBER, PERSON, encodings, plain_secrets

pytestmark = pytest.mark.slow  # two hub processes with migrations: about 10 s

REGISTER = """
import datetime as dt, json
from epitrace.hub import setup
setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from epitrace.hub.accounts.models import Region
from epitrace.hub.cases.models import ENCRYPTED_FIELDS, BlindIndex, Case, CaseKey
from epitrace.hub.cases.records import CaseDates, Identifiers, encrypt_for_case, register_case
from epitrace.hub.cases.storage import ensure_case_folder
person = Identifiers(**json.loads(PERSON))
person = Identifiers(**{**person.__dict__, "birth_date": dt.date.fromisoformat(person.birth_date)})
region = Region.objects.create(code="seoul", name="Seoul")
day = dt.date(2026, 1, 5)
case = register_case(region, CaseDates(day, day, day, day), person, by="tester")
Case.objects.filter(pk=case.pk).update(
    registered_at=dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)
)
case.refresh_from_db()
folder = ensure_case_folder(case)
(folder / "card.txt").write_text(CARD)
blob = encrypt_for_case(case, "upload", CARD.encode())
(folder / "card.bin").write_bytes(blob)
blobs = [bytes(getattr(case, f + "_enc")) for f in ENCRYPTED_FIELDS]
blobs += [bytes(CaseKey.objects.get(case=case).wrapped), blob]
blobs += [d.encode() for d in BlindIndex.objects.values_list("digest", flat=True)]
print(json.dumps({"case": case.case_id, "blobs": [b.hex() for b in blobs]}))
"""


def hub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded default
    env.update(EPITRACE_HOME=str(home), DJANGO_SETTINGS_MODULE="epitrace.hub.settings")
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )


def everything_in(home: Path) -> dict[str, bytes]:
    keys = {"secret_key", "audit_key", "master_key", "index_key"}
    return {
        str(path): path.read_bytes()
        for path in home.rglob("*")
        if path.is_file() and path.name not in keys
    }


def test_epitrace_purge_leaves_nothing_in_the_sqlite_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    person = {**PERSON.__dict__, "birth_date": PERSON.birth_date.isoformat()}
    script = f"PERSON = {json.dumps(json.dumps(person))}\nCARD = {CARD_NUMBER!r}\n" + REGISTER
    registered = hub(home, "-c", script)
    assert registered.returncode == 0, registered.stderr
    planted = json.loads(registered.stdout.strip().splitlines()[-1])
    needles = {
        form: text for text in plain_secrets(PERSON, CARD_NUMBER) for form in encodings(text)
    }
    for blob in planted["blobs"]:
        needles[bytes.fromhex(blob)] = f"ciphertext/digest {blob[:16]}"
    database = home / "hub.sqlite3"
    assert any(n in database.read_bytes() for n in needles)  # the scan can see it

    purged = hub(home, "-m", "epitrace.cli", "purge")
    assert purged.returncode == 0, purged.stderr
    assert f"{planted['case']}  expired 2026-04-05" in purged.stdout
    assert "vacuumed: (whole database)" in purged.stdout

    files = everything_in(home)
    assert str(database) in files
    assert not any((home / "cases").iterdir())  # the case's folder is gone
    for path, data in files.items():
        found = sorted({what for needle, what in needles.items() if needle in data})
        assert found == [], path
    verified = hub(home, "-m", "epitrace.cli", "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
