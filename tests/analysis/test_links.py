"""Links between cases on hand-made stays whose source is known (analysis.links)."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from epitrace.analysis.home import covers_night, covers_night_many
from epitrace.analysis.links import LinkInputError, LinkParams, chains_of, propose_links
from epitrace.analysis.links.transmission import offspring, offspring_counts, serial_interval
from epitrace.formats.schemas import table

KST = dt.timezone(dt.timedelta(hours=9))
CAFE = (35.8700, 128.6000)
HOME = (35.8800, 128.6100)
ELSEWHERE = (35.8600, 128.5900)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2020, 3, day, hour, minute, tzinfo=KST)


def stay(
    person: str,
    start: dt.datetime,
    end: dt.datetime,
    where: tuple[float, float],
    *,
    name: str | None = None,
    radius: float = 30.0,
    sources: str = "card",
    kind: str | None = None,
) -> dict:
    return {
        "person_ref": person,
        "start": start,
        "end": end,
        "lat": where[0],
        "lon": where[1],
        "radius_m": radius,
        "place_name": name,
        "sources": sources,
        "kind": kind,
    }


def cases(*rows: tuple[str, int, int | None]) -> pa.Table:
    """(person, confirmed day of March, onset day or None) -> a cases table (C + person)."""
    return pa.table(
        {
            "case_id": [f"C{p}" for p, _, _ in rows],
            "person_ref": [p for p, _, _ in rows],
            "confirmed_date": [dt.date(2020, 3, c) for _, c, _ in rows],
            "onset_date": [dt.date(2020, 3, o) if o else None for _, _, o in rows],
            "region": ["대구광역시"] * len(rows),
        }
    )


def links_of(stays: list[dict], case_table: pa.Table, **kw: object) -> list[dict]:
    return propose_links(pa.Table.from_pylist(stays), case_table, **kw).links.to_pylist()


def test_one_source_at_a_cafe_is_proposed_with_its_evidence() -> None:
    stays = [
        stay("1", at(5, 12), at(5, 13), CAFE, name="Cafe A", kind="cafe"),
        stay("2", at(5, 12, 15), at(5, 13, 30), CAFE, name="Cafe A", kind="cafe"),
    ]
    found = links_of(stays, cases(("1", 8, 6), ("2", 13, 10)))
    assert len(found) == 1
    link = found[0]
    assert (link["source_case"], link["target_case"]) == ("C1", "C2")
    assert link["place_name"] == "Cafe A"
    assert link["overlap_min"] == pytest.approx(45.0)
    assert link["start"] == at(5, 12, 15) and link["end"] == at(5, 13)
    assert link["via"] == "card"
    assert 0 < link["score"] <= 1


def test_the_better_evidence_wins_between_two_candidate_sources() -> None:
    stays = [
        # C1 sat an hour in the target's cafe; C3 was only in the same cell for a while.
        stay("1", at(5, 12), at(5, 13), CAFE, name="Cafe A", kind="cafe"),
        stay("3", at(5, 12, 30), at(5, 14), CAFE, radius=150.0, sources="telecom"),
        stay("2", at(5, 12), at(5, 13), CAFE, name="Cafe A", kind="cafe"),
    ]
    found = links_of(stays, cases(("1", 8, 6), ("3", 8, 6), ("2", 13, 10)))
    to_target = [link for link in found if link["target_case"] == "C2"]
    assert [link["source_case"] for link in to_target] == ["C1", "C3"]
    assert to_target[0]["score"] > 3 * to_target[1]["score"]


def test_arriving_and_leaving_together_makes_a_cell_stay_likelier_one_room() -> None:
    target = stay("2", at(5, 12), at(5, 13), CAFE, name="Cafe A", kind="cafe")
    # Both only in the target's cells, as long; C1 came and went with the target.
    with_target = stay("1", at(5, 12, 5), at(5, 13, 5), CAFE, radius=150.0, sources="telecom")
    apart = stay("3", at(5, 11, 30), at(5, 12, 30), CAFE, radius=150.0, sources="telecom")
    found = links_of([target, with_target, apart], cases(("1", 8, 6), ("3", 8, 6), ("2", 13, 10)))
    to_target = {li["source_case"]: li["score"] for li in found if li["target_case"] == "C2"}
    assert to_target["C1"] > 3 * to_target["C3"]


def test_an_alternative_source_lowers_the_score() -> None:
    alone = [
        stay("1", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
        stay("2", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
    ]
    rival = stay("3", at(5, 12), at(5, 13), CAFE, name="Cafe A")
    dates = cases(("1", 8, 6), ("3", 8, 6), ("2", 13, 10))
    single = next(li for li in links_of(alone, dates) if li["source_case"] == "C1")
    shared = next(li for li in links_of([*alone, rival], dates) if li["source_case"] == "C1")
    assert shared["score"] < single["score"]


def test_the_incubation_order_excludes_the_reverse_direction() -> None:
    stays = [
        stay("1", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
        stay("2", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
    ]
    # C2 fell ill 5 days after the meeting; C1 already the day after it.
    found = links_of(stays, cases(("1", 8, 6), ("2", 13, 10)))
    assert [(li["source_case"], li["target_case"]) for li in found] == [("C1", "C2")]
    # Onset before the meeting: the meeting cannot have infected the target.
    assert links_of(stays, cases(("1", 8, 6), ("2", 6, 4))) == []


def test_a_meeting_outside_the_sources_infectious_window_is_no_link() -> None:
    stays = [
        stay("1", at(2, 12), at(2, 13), CAFE, name="Cafe A"),
        stay("2", at(2, 12), at(2, 13), CAFE, name="Cafe A"),
    ]
    # C1's onset on the 9th: infectious from the 7th, after the meeting on the 2nd.
    assert links_of(stays, cases(("1", 11, 9), ("2", 12, 7))) == []


def test_a_shared_home_is_a_household_link() -> None:
    stays = []
    for day in (4, 5, 6, 7):
        stays.append(stay("1", at(day, 19), at(day + 1, 8), HOME, radius=150.0, sources="telecom"))
        stays.append(stay("2", at(day, 20), at(day + 1, 7), HOME, radius=150.0, sources="telecom"))
    found = links_of(stays, cases(("1", 8, 6), ("2", 14, 11)))
    assert [(li["source_case"], li["target_case"]) for li in found] == [("C1", "C2")]
    assert found[0]["place_name"] == "home"
    assert found[0]["meetings"] >= 2


def test_distant_stays_do_not_meet() -> None:
    stays = [
        stay("1", at(5, 12), at(5, 13), CAFE, radius=100.0, sources="telecom"),
        stay("2", at(5, 12), at(5, 13), ELSEWHERE, radius=100.0, sources="telecom"),
    ]
    assert links_of(stays, cases(("1", 8, 6), ("2", 13, 10))) == []


def test_arriving_soon_after_the_source_left_an_enclosed_place_counts() -> None:
    stays = [
        stay("1", at(5, 12), at(5, 13), CAFE, name="Bar A", kind="bar"),
        stay("2", at(5, 13, 10), at(5, 14), CAFE, name="Bar A", kind="bar"),
    ]
    found = links_of(stays, cases(("1", 8, 6), ("2", 13, 10)))
    assert [(li["source_case"], li["target_case"]) for li in found] == [("C1", "C2")]
    outdoors = [dict(s, kind=None) for s in stays]
    assert links_of(outdoors, cases(("1", 8, 6), ("2", 13, 10))) == []


def contact_row(person: str, contact: str, tier: str | None = None) -> dict:
    return {
        "person_ref": person,
        "contact_ref": contact,
        "via": "entry",
        "place_name": "Gym B",
        "lat": CAFE[0],
        "lon": CAFE[1],
        "start": at(6, 18),
        "end": at(6, 19),
        "overlap_min": 60.0,
        "score": 80.0,
        "tier": tier,
    }


def test_a_case_in_another_cases_contact_list_is_a_direct_link() -> None:
    contacts = pa.Table.from_pylist([contact_row("1", "2")], schema=table("contacts").arrow_schema)
    no_stays = pa.Table.from_pylist([stay("1", at(1, 0), at(1, 1), ELSEWHERE)])
    found = propose_links(no_stays, cases(("1", 8, 6), ("2", 13, 10)), contacts).links.to_pylist()
    assert [(li["source_case"], li["target_case"], li["place_name"]) for li in found] == [
        ("C1", "C2", "Gym B")
    ]


def test_a_close_contact_outranks_a_broad_one() -> None:
    # C1 and C3 are both in C2's contact list for the same hour; only C1 was close.
    contacts = pa.Table.from_pylist(
        [contact_row("1", "2", "close"), contact_row("3", "2", "broad")],
        schema=table("contacts").arrow_schema,
    )
    no_stays = pa.Table.from_pylist([stay("1", at(1, 0), at(1, 1), ELSEWHERE)])
    dates = cases(("1", 8, 6), ("3", 8, 6), ("2", 13, 10))
    found = propose_links(no_stays, dates, contacts).links.to_pylist()
    to_target = {li["source_case"]: li["score"] for li in found if li["target_case"] == "C2"}
    assert to_target["C1"] > 5 * to_target["C3"]


def test_a_night_at_home_does_not_meet_a_visit_to_a_named_place() -> None:
    # C1 slept at home, in cells around the cafe C2 sat in late: no meeting.
    stays = [
        stay("1", at(4, 20), at(5, 8), CAFE, radius=150.0, sources="telecom"),
        stay("2", at(4, 23), at(5, 1), CAFE, name="Cafe A", kind="cafe"),
    ]
    assert links_of(stays, cases(("1", 8, 6), ("2", 13, 10))) == []
    # The same cells by day are a (weak) meeting.
    by_day = [
        stay("1", at(5, 10), at(5, 14), CAFE, radius=150.0, sources="telecom"),
        stay("2", at(5, 12), at(5, 13), CAFE, name="Cafe A", kind="cafe"),
    ]
    assert len(links_of(by_day, cases(("1", 8, 6), ("2", 13, 10)))) == 1


def test_a_case_infected_at_an_event_is_not_the_source_of_others_there() -> None:
    # I fell ill on the day of the church service; A two days later, B five days
    # later. A was likely infected at the service itself, so it could hardly pass
    # the infection on there: I is B's source, A much less so than by the
    # windows alone (min_latent_days -30 counts every earlier link as before).
    service = (at(5, 10), at(5, 13))
    stays = [stay(p, *service, CAFE, name="Church C", kind="church") for p in ("I", "A", "B")]
    dates = cases(("I", 7, 5), ("A", 9, 7), ("B", 12, 10))

    def to_b(**changes: float) -> dict[str, float]:
        params = LinkParams().replace(**changes)
        found = links_of(stays, dates, params=params)
        return {li["source_case"]: li["score"] for li in found if li["target_case"] == "CB"}

    pruned, windows_only = to_b(), to_b(min_latent_days=-30.0)
    assert pruned["CA"] < 0.8 * windows_only["CA"]
    assert pruned["CI"] > windows_only["CI"]
    assert pruned["CI"] > 2 * pruned["CA"]


def test_missing_columns_are_named() -> None:
    stays = pa.table({"person_ref": ["1"], "start": [at(5, 12)]})
    with pytest.raises(LinkInputError, match="end, lat, lon, radius_m"):
        propose_links(stays, cases(("1", 8, 6)))


def test_links_are_sorted_by_score_and_fit_the_contract() -> None:
    stays = [
        stay("1", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
        stay("2", at(5, 12), at(5, 12, 30), CAFE, name="Cafe A"),
        stay("3", at(5, 12), at(5, 13), CAFE, name="Cafe A"),
    ]
    links = propose_links(
        pa.Table.from_pylist(stays), cases(("1", 8, 6), ("2", 13, 10), ("3", 13, 10))
    ).links
    assert links.schema.equals(table("links").arrow_schema)
    scores = links.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True) and len(scores) == 2


def test_chains_join_linked_cases_and_count_generations() -> None:
    stays = [
        stay("1", at(3, 12), at(3, 13), CAFE, name="Cafe A"),
        stay("2", at(3, 12), at(3, 13), CAFE, name="Cafe A"),
        stay("2", at(9, 19), at(9, 21), ELSEWHERE, name="Bar B", kind="bar"),
        stay("3", at(9, 19), at(9, 21), ELSEWHERE, name="Bar B", kind="bar"),
    ]
    dates = cases(("1", 6, 4), ("2", 10, 8), ("3", 16, 14), ("4", 10, 8))
    proposal = propose_links(pa.Table.from_pylist(stays), dates)
    chains = chains_of(proposal.links, dates, LinkParams(chain_min_score=0.0))
    rows = chains.table.to_pylist()
    assert rows == [
        {"chain_id": 1, "case_id": "C1", "generation": 0},
        {"chain_id": 1, "case_id": "C2", "generation": 1},
        {"chain_id": 1, "case_id": "C3", "generation": 2},
    ]
    summary = chains.summary.to_pylist()[0]
    assert summary["cases"] == 3 and summary["first_date"] == dt.date(2020, 3, 4)
    assert "Cafe A" in summary["places"] and "Bar B" in summary["places"]
    above_all = chains_of(proposal.links, dates, LinkParams(chain_min_score=1.0))
    assert above_all.table.num_rows == 0


def test_covers_night_many_agrees_with_covers_night() -> None:
    rng = random.Random(3)
    starts = [at(1, 0) + dt.timedelta(minutes=rng.randrange(60 * 24 * 5)) for _ in range(500)]
    ends = [s + dt.timedelta(minutes=rng.randrange(1, 60 * 30)) for s in starts]
    many = covers_night_many(pa.array(starts), pa.array(ends), "Asia/Seoul")
    one_by_one = [covers_night(s, e, "Asia/Seoul") for s, e in zip(starts, ends, strict=True)]
    assert many.tolist() == one_by_one


def test_serial_interval_of_pairs_with_onsets() -> None:
    onsets = {"A": dt.date(2020, 3, 1), "B": dt.date(2020, 3, 5), "C": dt.date(2020, 3, 8)}
    onsets["D"] = None
    found = serial_interval([("A", "B"), ("B", "C"), ("A", "D")], onsets)
    assert found is not None
    assert found.pairs == 2 and found.mean == 3.5 and found.counts == {3: 1, 4: 1}
    assert found.mean_ci[0] < 3.5 < found.mean_ci[1]


def test_offspring_fit_recovers_a_known_negative_binomial() -> None:
    r, k = 1.4, 0.35
    counts = stats.nbinom.rvs(k, k / (k + r), size=3000, random_state=np.random.default_rng(7))
    fit = offspring(counts)
    assert fit is not None
    assert fit.r_ci[0] < r < fit.r_ci[1]
    assert fit.k_ci[0] < k < fit.k_ci[1]
    assert fit.k_ci[1] < 1  # overdispersed, and the interval says so


def test_offspring_counts_give_zero_to_cases_without_offspring() -> None:
    counts = offspring_counts([("A", "B"), ("A", "C"), ("B", "D")], ["A", "B", "C", "D"])
    assert counts.tolist() == [2, 1, 0, 0]
