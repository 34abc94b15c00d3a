"""Provider records agree with where people really were (truth/visits)."""

from __future__ import annotations

METRES = "sqrt(pow(({a}.lat - {b}.lat) * 110540, 2) + pow(({a}.lon - {b}.lon) * 90200, 2))"


def _distance(a: str, b: str) -> str:
    return METRES.format(a=a, b=b)


def test_visits_of_a_person_never_overlap(city) -> None:
    overlapping = city.value(
        """with v as (select person_ref, start, "end",
                      lag("end") over (partition by person_ref order by start) prev_end
                      from {visits})
           select count(*) from v where start < prev_end"""
    )
    assert overlapping == 0
    assert city.value('select count(*) from {visits} where "end" < start') == 0


def test_offline_payment_happens_during_a_visit_to_the_merchant(city) -> None:
    total, inside = city.sql(
        """with tx as (
             select t.ts, h.person_ref, p.place_id from {card_transactions} t
             join {card_holders} h using (issuer, card_id)
             join {places} p on p.merchant_id = t.merchant_id
             where t.channel = 'offline')
           select count(*), count(*) filter (where exists (
             select 1 from {visits} v where v.person_ref = tx.person_ref
             and v.place_id = tx.place_id and tx.ts between v.start and v."end"))
           from tx"""
    )[0]
    assert total > 1_000
    assert inside == total


def test_online_merchants_are_not_places_in_the_city(city) -> None:
    online_at_places = city.value(
        """select count(*) from {card_transactions} t join {places} p using (merchant_id)
           where t.channel = 'online'"""
    )
    assert online_at_places == 0


def test_attached_cell_is_near_the_true_location(city) -> None:
    count, within_two, within_four = city.sql(
        f"""with at_place as materialized (
              select r.carrier, r.cell_id, v.place_id from {{telecom_records}} r
              join {{subscribers}} s using (carrier, subscriber)
              join {{visits}} v on v.person_ref = s.person_ref
                               and r.ts between v.start and v."end"),
            radii as (
              select {_distance("c", "p")} / c.radius_m as radii from at_place
              join {{cells}} c using (carrier, cell_id) join {{places}} p using (place_id))
            select count(*), avg((radii <= 2)::int), avg((radii <= 4)::int) from radii"""
    )[0]
    assert count > 100_000
    assert within_two >= 0.9
    assert within_four >= 0.995


def test_ping_pong_between_neighbouring_cells(city) -> None:
    # A person staying at one place shows up on more than one cell.
    cells_per_stay = city.value(
        """select avg(n) from (
             select count(distinct r.cell_id) n from {telecom_records} r
             join {subscribers} s using (carrier, subscriber)
             join {visits} v on v.person_ref = s.person_ref and r.ts between v.start and v."end"
             where epoch(v."end") - epoch(v.start) > 4 * 3600
             group by v.person_ref, v.start)"""
    )
    assert 1.5 <= cells_per_stay <= 8


def test_transit_taps_happen_while_travelling(city) -> None:
    total, during_visits = city.sql(
        """with taps as (select t.ts, h.person_ref from {transit_taps} t
                         join {card_holders} h using (issuer, card_id))
           select count(*), count(*) filter (where exists (
             select 1 from {visits} v where v.person_ref = taps.person_ref
             and taps.ts > v.start and taps.ts < v."end"))
           from taps"""
    )[0]
    assert total > 1_000
    assert during_visits / total < 0.01
    taps_in, taps_out = city.sql(
        "select count(*) filter (where tap = 'in'), count(*) filter (where tap = 'out') "
        "from {transit_taps}"
    )[0]
    assert taps_in == taps_out


def test_entry_log_check_in_at_the_start_of_a_visit(city) -> None:
    total, matched = city.sql(
        """with e as (select e.ts, e.venue_name, e.lat, e.lon, s.person_ref from {entry_logs} e
                      join {subscribers} s on s.subscriber = e.visitor)
           select count(*), count(*) filter (where exists (
             select 1 from {visits} v join {places} p using (place_id)
             where v.person_ref = e.person_ref and p.name = e.venue_name and p.lat = e.lat
             and e.ts between v.start and v.start + interval 3 minute))
           from e"""
    )[0]
    assert total > 500
    assert matched == total


def test_gps_fixes_close_to_where_people_were(city) -> None:
    count, within = city.sql(
        f"""with g as (
              select {_distance("g", "p")} as metres from {{gps_points}} g
              join {{visits}} v on v.person_ref = g.person_ref and g.ts between v.start and v."end"
              join {{places}} p on p.place_id = v.place_id)
            select count(*), avg((metres <= 150)::int) from g"""
    )[0]
    assert count > 10_000
    assert within >= 0.98


def test_place_infections_happen_where_both_people_were(city) -> None:
    total, both_there = city.sql(
        """with i as (select i.* from {infections} i join {places} p using (place_id)
                      where p.kind <> 'home' and i.infector is not null)
           select count(*), count(*) filter (where
             exists (select 1 from {visits} v where v.person_ref = i.infectee
                     and v.place_id = i.place_id and i.ts between v.start and v."end")
             and exists (select 1 from {visits} v where v.person_ref = i.infector
                     and v.place_id = i.place_id and i.ts between v.start and v."end"))
           from i"""
    )[0]
    assert total >= 8
    assert both_there == total


def test_interview_visits_mostly_overlap_truth_with_recall_errors(city) -> None:
    total, overlapping, no_coordinates, no_address = city.sql(
        """select count(*),
             count(*) filter (where exists (
               select 1 from {visits} v join {places} p using (place_id)
               where v.person_ref = iv.person_ref and p.name = iv.place_name
               and v.start < iv."end" + interval 1 hour and v."end" > iv.start - interval 1 hour)),
             count(*) filter (where lat is null and address is not null),
             count(*) filter (where address is null and lat is not null)
           from {interview_visits} iv"""
    )[0]
    assert total >= 20
    assert 0.7 <= overlapping / total <= 1.0
    assert no_coordinates >= 1
    assert no_address >= 0  # lat/lon known but no address: rarer, may be absent
    times_on_the_quarter = city.value(
        "select avg((extract(minute from start) % 15 = 0)::int) from {interview_visits}"
    )
    assert times_on_the_quarter == 1.0


def test_interviews_forget_some_truth_visits(city) -> None:
    truth, forgotten = city.sql(
        """with c as (select person_ref, min(start) s, max("end") e from {interview_visits}
                      group by 1),
           v as (select v.*, p.name from {visits} v join c using (person_ref)
                 join {places} p using (place_id)
                 where p.kind not in ('home', 'transit') and v.start < c.e and v."end" > c.s)
           select count(*), count(*) filter (where not exists (
             select 1 from {interview_visits} iv where iv.person_ref = v.person_ref
             and iv.place_name = v.name
             and v.start < iv."end" + interval 1 hour and v."end" > iv.start - interval 1 hour))
           from v"""
    )[0]
    assert truth >= 20
    assert 0.05 <= forgotten / truth <= 0.6


def test_home_infections_happen_while_both_are_home(city) -> None:
    total, both_home = city.sql(
        """with i as (select i.* from {infections} i join {places} p using (place_id)
                      where p.kind = 'home')
           select count(*), count(*) filter (where
             exists (select 1 from {visits} v where v.person_ref = i.infectee
                     and v.place_id = i.place_id and i.ts between v.start and v."end")
             and exists (select 1 from {visits} v where v.person_ref = i.infector
                     and v.place_id = i.place_id and i.ts between v.start and v."end"))
           from i"""
    )[0]
    assert total >= 1
    assert both_home == total
