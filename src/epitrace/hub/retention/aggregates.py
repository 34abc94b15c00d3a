"""Case counts that survive the purge: live cases plus the purged ones' anonymous counts.

Before a case is destroyed it is folded into ``PurgedCaseCount`` (by confirmation
date, onset date and region: counts, no identifier). The dashboard asks these
functions, never ``Case`` directly, so its figures do not drop when cases are purged.
A case whose destruction has started is counted once: among the purged, not the live.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Literal

from django.db.models import Count, F, QuerySet, Sum

from epitrace.hub.cases.models import Case
from epitrace.hub.retention.models import PurgedCaseCount, PurgeRecord

By = Literal["confirmation", "onset"]
CASES_TARGET = "cases"  # targets.CaseTarget.name (not imported: targets imports us)


def fold(case: Case) -> None:
    """Count ``case`` among the purged (called once, as its destruction is recorded)."""
    cell = PurgedCaseCount.objects.filter(
        confirmation_date=case.confirmation_date,
        onset_date=case.onset_date,
        region_code=case.region.code,
    )
    # Two purges at once may each create the cell: the sums below stay right anyway.
    if cell.update(cases=F("cases") + 1) == 0:
        PurgedCaseCount.objects.create(
            confirmation_date=case.confirmation_date,
            onset_date=case.onset_date,
            region_code=case.region.code,
            cases=1,
        )


def live_cases() -> QuerySet:
    """Cases not (being) purged."""
    leaving = PurgeRecord.objects.filter(target=CASES_TARGET, finished_at__isnull=True)
    return Case.objects.exclude(uid__in=leaving.values("case_uid"))


def _day_field(by: By) -> str:
    if by not in ("confirmation", "onset"):
        raise ValueError(f"by must be 'confirmation' or 'onset', not {by!r}")
    return f"{by}_date"


def cases_by_day_and_region(
    by: By = "confirmation", start: dt.date | None = None, end: dt.date | None = None
) -> dict[tuple[dt.date | None, str], int]:
    """{(day, region code): cases}, live and purged together. ``by`` onset: asymptomatic
    cases count under day None. ``start``/``end`` bound the day, inclusive."""
    day = _day_field(by)
    live = live_cases()
    purged = PurgedCaseCount.objects.all()
    if start is not None:
        live, purged = (
            live.filter(**{f"{day}__gte": start}),
            purged.filter(**{f"{day}__gte": start}),
        )
    if end is not None:
        live, purged = live.filter(**{f"{day}__lte": end}), purged.filter(**{f"{day}__lte": end})
    counts: dict[tuple[dt.date | None, str], int] = defaultdict(int)
    for row in live.values(day, "region__code").annotate(n=Count("id")).order_by():
        counts[(row[day], row["region__code"])] += row["n"]
    for row in purged.values(day, "region_code").annotate(n=Sum("cases")).order_by():
        counts[(row[day], row["region_code"])] += row["n"]
    return dict(counts)


def cases_by_day(by: By = "confirmation") -> dict[dt.date | None, int]:
    """{day: cases} over every region."""
    totals: dict[dt.date | None, int] = defaultdict(int)
    for (day, _region), n in cases_by_day_and_region(by).items():
        totals[day] += n
    return dict(totals)


def cases_by_region() -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for (_day, region), n in cases_by_day_and_region().items():
        totals[region] += n
    return dict(totals)


def total_cases() -> int:
    return sum(cases_by_region().values())


def daily_series(by: By = "confirmation") -> list[dict[str, object]]:
    """The counts as JSON-ready rows, sorted by day then region (for the dashboard)."""
    rows = cases_by_day_and_region(by)
    ordered = sorted(rows.items(), key=lambda kv: (kv[0][0] or dt.date.min, kv[0][1]))
    return [
        {"date": day.isoformat() if day else None, "region": region, "cases": n}
        for (day, region), n in ordered
    ]
