"""Where a case's files live: one folder per case, so destroying the case removes them all.

Every file that belongs to a case — uploaded documents, provider answers, analysis
outputs — is written under ``case_folder(case)`` (``EPITRACE_HOME/cases/<uid>``),
encrypted with the case's data key (``records.encrypt_for_case``). The purge deletes
the folder as one of its steps (epitrace.hub.retention.purge). The folder is named by
the case's random ``uid``, never by anything that identifies the person.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings

from epitrace.hub.cases.models import Case

CASES_DIR = "cases"
# Sub-folders by kind of data, each with its own retention (epitrace.hub.retention):
ANSWERS_DIR = "answers"  # the providers' raw answers (exchange.answers)
RESULTS_DIR = "results"  # analysis outputs written as files
UPLOADS_DIR = "uploads"  # documents uploaded for the case: kept as long as the case


def cases_root() -> Path:
    """The folder holding every case's folder (read at call time: tests move HOME)."""
    return Path(settings.HOME) / CASES_DIR


def folder_for_uid(uid: uuid.UUID | str) -> Path:
    """The folder of the case with this ``uid``, even after its row is gone (the purge
    resumes from its own log, which keeps only the uid)."""
    return cases_root() / str(uuid.UUID(str(uid)))


def case_folder(case: Case) -> Path:
    """The one folder every file of ``case`` lives under (not created here)."""
    return folder_for_uid(case.uid)


def ensure_case_folder(case: Case) -> Path:
    """``case_folder(case)``, created if missing, readable by the hub's account only."""
    folder = case_folder(case)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def delete_folder_for_uid(uid: uuid.UUID | str) -> bool:
    """Remove a case's folder and everything in it; True if there was one. Safe to repeat:
    a deletion interrupted half-way finishes on the next call."""
    folder = folder_for_uid(uid)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True
