"""The contact search end to end: a small simulated city, its agencies' stores, analyze."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from epitrace.formats.readers import read_table
from epitrace.providers.queries import ProviderStore, QueryRefused
from epitrace.workflows.investigation import analyze


def last_case(city: Path) -> str:
    """The case confirmed last: the longest infectious window with records."""
    cases = pq.read_table(city / "cases.parquet").to_pylist()
    return max(cases, key=lambda c: (c["confirmed_date"], c["case_id"]))["person_ref"]


@pytest.fixture(scope="module")
def analyzed(parquet_city: Path, stores: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("contacts-out")
    person = last_case(parquet_city)
    result = analyze(stores, person, out, cases_file=parquet_city / "cases.parquet")
    return result, out


def test_contacts_csv_conforms_and_is_ranked(analyzed) -> None:
    result, out = analyzed
    contacts = read_table(out / "contacts.csv").raise_for_problems()
    assert contacts.num_rows > 0
    assert set(contacts.column("person_ref").to_pylist()) == {result.person_ref}
    scores = contacts.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True)
    assert min(contacts.column("overlap_min").to_pylist()) >= result.contacts.params.min_overlap_min
    assert "Contacts per stay" in (out / "report.html").read_text()


def test_subject_is_not_their_own_contact(analyzed) -> None:
    result, _ = analyzed
    refs = set(result.contacts.contacts.table.column("contact_ref").to_pylist())
    assert result.person_ref not in refs
    assert refs  # and the others are found


def test_one_row_per_person_and_stay_with_merged_evidence(analyzed) -> None:
    result, _ = analyzed
    ranked = result.contacts.contacts
    pairs = Counter(
        zip(ranked.table.column("contact_ref").to_pylist(), ranked.stay_seq, strict=True)
    )
    assert max(pairs.values()) == 1
    vias = ranked.table.column("via").to_pylist()
    # People seen by card or check-in and by their phone's cell are one contact.
    assert any("telecom" in v and ("card" in v or "entry" in v) for v in vias)
    # Registries resolved people: most contacts carry a person_ref, not a raw identifier.
    resolved = [r for r in ranked.table.column("contact_ref").to_pylist() if ":" not in r]
    assert len(resolved) >= 0.9 * ranked.table.num_rows


def test_home_stays_are_skipped_and_said(analyzed) -> None:
    result, _ = analyzed
    reasons = [v.reason for v in result.contacts.verdicts if not v.searched]
    assert any(r.startswith("home") for r in reasons)
    assert result.contacts.searched()


def test_refused_queries_are_reported_not_fatal(
    parquet_city: Path, stores: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ProviderStore.presence

    def refuse_checkins(self: ProviderStore, query: object):
        if self.kind == "entry_operator":
            raise QueryRefused("not approved for this case")
        return real(self, query)  # type: ignore[arg-type]

    monkeypatch.setattr(ProviderStore, "presence", refuse_checkins)
    person = last_case(parquet_city)
    result = analyze(stores, person, tmp_path, cases_file=parquet_city / "cases.parquet")
    assert result.contacts is not None
    assert result.contacts.refused and "not approved" in result.contacts.refused[0]
    assert any("query refused" in m for m in result.messages())
    assert result.contacts.contacts.table.num_rows > 0  # cards and cells still answered
    assert "entry" not in "".join(result.contacts.contacts.table.column("via").to_pylist())


def test_dataset_folder_gives_the_same_contacts_as_the_stores(
    analyzed, parquet_city: Path, tmp_path: Path
) -> None:
    result, _ = analyzed
    again = analyze(parquet_city, result.person_ref, tmp_path)
    assert again.contacts is not None
    assert again.contacts.contacts.table.equals(result.contacts.contacts.table)


def test_no_contacts_flag_writes_no_contacts(parquet_city: Path, stores: Path, tmp_path: Path):
    result = analyze(stores, last_case(parquet_city), tmp_path, contacts=False)
    assert result.contacts is None and not (tmp_path / "contacts.csv").exists()
