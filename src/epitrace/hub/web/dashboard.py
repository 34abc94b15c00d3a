"""The operations dashboard: the epidemic curve, requests, turnaround and data accesses.

Aggregate counts only, never a person: investigators see their jurisdiction (a
regional investigator their region's cases, requests and the accesses to those
cases), administrators see the whole country. The figures are computed by
``epitrace.analysis.statistics`` (the one place they are defined) and drawn as
inline SVG by ``epitrace.hub.web.charts``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db.models import CharField, Max, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from epitrace.analysis import statistics
from epitrace.hub import access, policy
from epitrace.hub.accounts.models import Region
from epitrace.hub.audit.labels import action_label
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange.models import AgencyTask, DataRequest
from epitrace.hub.retention.aggregates import live_cases
from epitrace.hub.retention.models import PurgedCaseCount
from epitrace.hub.web.charts import Chart, bar_chart, column_chart

# What counts as a data access in the audit log: opening personal data, not a page.
ACCESS_ACTIONS = ("case.view", "case.search", "result.view")
EXPORT_PREFIX = "export."
ACCESS_DAYS_DEFAULT = 30
ACCESS_USERS_SHOWN = 20
CURVE_DAYS_DEFAULT = 90  # the curve's longest default period, when the cases span more
CURVE_DAYS_MINIMUM = 14  # and its shortest: a few cases still read as a curve
CURVE_MARGIN_DAYS = 2  # empty days shown before the first case and after the last
WEEKLY_BEYOND_DAYS = 120  # longer periods: one bar per week
PURGED_LABEL = "purged"  # the curve's series for anonymous aggregates of purged cases


@dataclass(frozen=True)
class Scope:
    """Which cases the dashboard counts, and whether every region is in view."""

    cases: QuerySet
    regions: QuerySet | None  # the regions of the jurisdiction; None: every region

    @property
    def nationwide(self) -> bool:
        return self.regions is None


def scope_of(user: Any) -> Scope:
    cases = policy.visible(user, "dashboard.view", Case.objects.select_related("region"))
    assignment = policy.assignment_of(user)
    if assignment is None or assignment.region is None:
        return Scope(cases, None)
    return Scope(cases, policy.visible(user, "dashboard.view", Region.objects.all()))


# --- cases -------------------------------------------------------------------


def cases_table(cases: QuerySet) -> pa.Table:
    """The hub's cases as the contract's ``cases`` columns the statistics need; ``region``
    holds the region's name, the series the curves show."""
    rows = list(cases.values_list("confirmation_date", "onset_date", "region__name"))
    return pa.table(
        {
            "confirmed_date": pa.array([r[0] for r in rows], pa.date32()),
            "onset_date": pa.array([r[1] for r in rows], pa.date32()),
            "region": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def held_cases(cases: QuerySet) -> QuerySet:
    """Cases still held: once issue 9's purge has begun on a case, it counts among the
    purged aggregates instead, never twice."""
    return cases.filter(pk__in=live_cases().values("pk"))


def purged_case_counts(scope: Scope) -> pa.Table:
    """Anonymous counts of purged cases (issue 9's ``PurgedCaseCount``: dates, region,
    count), so the curve does not drop after a purge."""
    purged = PurgedCaseCount.objects.all()
    if not scope.nationwide:
        purged = purged.filter(region_code__in=scope.regions.values("code"))
    rows = list(purged.values_list("confirmation_date", "onset_date", "region_code", "cases"))
    return pa.table(
        {
            "confirmed_date": pa.array([r[0] for r in rows], pa.date32()),
            "onset_date": pa.array([r[1] for r in rows], pa.date32()),
            "region": pa.array([r[2] for r in rows], pa.string()),
            "count": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def with_purged(held: pa.Table, purged: pa.Table | None) -> pa.Table:
    """Held cases (one row each) and purged aggregates (a count per row), region
    of the purged rows marked so the chart shows them apart."""
    held = held.append_column("count", pa.array([1] * held.num_rows, pa.int64()))
    if purged is None or purged.num_rows == 0:
        return held
    marked = pa.table(
        {
            "confirmed_date": pc.cast(purged.column("confirmed_date"), pa.date32()),
            "onset_date": pc.cast(purged.column("onset_date"), pa.date32()),
            "region": pa.array([PURGED_LABEL] * purged.num_rows, pa.string()),
            "count": pc.cast(purged.column("count"), pa.int64()),
        }
    )
    return pa.concat_tables([held, marked])


@dataclass(frozen=True)
class Period:
    """The days the curves cover (both included); weekly bars beyond WEEKLY_BEYOND_DAYS."""

    start: dt.date
    end: dt.date

    @property
    def weekly(self) -> bool:
        return (self.end - self.start).days + 1 > WEEKLY_BEYOND_DAYS

    def categories(self) -> list[dt.date]:
        first = self.start - dt.timedelta(days=self.start.weekday()) if self.weekly else self.start
        step = dt.timedelta(days=7 if self.weekly else 1)
        out = []
        while first <= self.end:
            out.append(first)
            first += step
        return out


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


def curve_period(cases: pa.Table, params: Any) -> Period:
    """``?from=&to=`` (ISO dates); by default the days the cases span (their first onset
    or confirmation to the latest confirmation, CURVE_MARGIN_DAYS either side), at least
    CURVE_DAYS_MINIMUM and at most CURVE_DAYS_DEFAULT days up to the latest confirmation
    (the CURVE_DAYS_MINIMUM days up to today when there is no case)."""
    latest = pc.max(cases.column("confirmed_date")).as_py() if cases.num_rows else None
    end = _date(params.get("to")) or latest or timezone.localdate()
    start = _date(params.get("from")) or _default_start(cases, end)
    return Period(min(start, end), max(start, end))


def _default_start(cases: pa.Table, end: dt.date) -> dt.date:
    margin = dt.timedelta(days=CURVE_MARGIN_DAYS)
    firsts = [
        pc.min(cases.column(column)).as_py()
        for column in ("onset_date", "confirmed_date")
        if cases.num_rows
    ]
    first = min((d for d in firsts if d is not None), default=end)
    longest = end - dt.timedelta(days=CURVE_DAYS_DEFAULT - 1)
    shortest = end - dt.timedelta(days=CURVE_DAYS_MINIMUM - 1)
    return min(max(first - margin, longest), shortest)


def _in_period(cases: pa.Table, column: str, period: Period) -> pa.Table:
    dates = cases.column(column)
    inside = pc.and_(
        pc.greater_equal(dates, pa.scalar(period.start, pa.date32())),
        pc.less_equal(dates, pa.scalar(period.end, pa.date32())),
    )
    return cases.filter(pc.fill_null(inside, False))


def region_names() -> dict[str, str]:
    """A region's code -> its name, as the curve's legend shows them; the purged cases'
    series by what it is."""
    return {**dict(Region.objects.values_list("code", "name")), PURGED_LABEL: _("purged cases")}


def curve_chart(cases: pa.Table, by: str, period: Period) -> Chart:
    column = "onset_date" if by == "onset" else "confirmed_date"
    shown = _in_period(cases, column, period)
    curve = statistics.curve_by_group(shown, by, "region")
    if period.weekly:
        curve = statistics.per_week(curve).rename_columns(["date", "group", "cases"])
    codes = sorted(set(curve.column("group").to_pylist()), key=lambda g: (g == PURGED_LABEL, g))
    names = region_names()
    groups = [names.get(code, code) for code in codes]
    values = {
        (d.isoformat(), names.get(g, g)): n
        for d, g, n in zip(
            *(curve.column(c).to_pylist() for c in ("date", "group", "cases")), strict=True
        )
    }
    total = sum(values.values())
    if by == "onset":
        title = _("Cases by onset date and region")
        confirmed = _in_period(cases, "confirmed_date", period)
        without = int(statistics.epidemic_curve(confirmed, by).schema.metadata[b"without_date"])
        note = (
            ngettext(
                "%(n)d case without symptoms (no onset date) is not shown.",
                "%(n)d cases without symptoms (no onset date) are not shown.",
                without,
            )
            % {"n": without}
            if without
            else ""
        )
    else:
        title = _("Cases by confirmation date and region")
        note = ""
    values_per = _("per week") if period.weekly else _("per day")
    description = ngettext(
        "%(total)d case from %(start)s to %(end)s, %(per)s, stacked by region.",
        "%(total)d cases from %(start)s to %(end)s, %(per)s, stacked by region.",
        total,
    ) % {
        "total": total,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "per": values_per,
    }
    chart = column_chart(
        f"curve-{by}",
        title,
        f"{description} {note}".strip(),
        [d.isoformat() for d in period.categories()],
        groups,
        values,
        value_header=_("Cases"),
        # MM-DD under daily bars (the table has the year); week starts in full.
        tick_label=(lambda day: day) if period.weekly else (lambda day: day[5:]),
    )
    chart.rows = [row for row in chart.rows if any(cell != "0" for cell in row[1:])]
    return chart


# --- requests ----------------------------------------------------------------


def requests_chart(cases: QuerySet) -> Chart:
    rows = AgencyTask.objects.filter(request__case__in=cases).values_list("agency__name", "status")
    table = pa.table(
        {
            "agency": pa.array([r[0] for r in rows], pa.string()),
            "status": pa.array([r[1] for r in rows], pa.string()),
        }
    )
    counts = statistics.counts_by(table, ["agency", "status"]).to_pylist()
    agencies = sorted({r["agency"] for r in counts})
    statuses = sorted({_(r["status"]) for r in counts})  # by name, as the legend says them
    values = {(r["agency"], _(r["status"])): r["count"] for r in counts}
    return bar_chart(
        "requests",
        _("Requests by agency and status"),
        _("%(n)d tasks sent to %(a)d agencies, stacked by status.")
        % {"n": table.num_rows, "a": len(agencies)},
        agencies,
        statuses,
        values,
        category_header=_("Agency"),
        value_header=_("Tasks"),
    )


def turnaround_table(cases: QuerySet) -> pa.Table:
    """One row per request: when it was created, decided, answered (last agency) and
    analysed. Requests that need no approval start their answers at creation."""
    rows = (
        DataRequest.objects.filter(case__in=cases)
        .annotate(answered=Max("tasks__answered_at"))
        .values_list("created_at", "decided_at", "answered", "completed_at", "status")
    )
    ts = pa.timestamp("us", tz="UTC")
    created = [r[0] for r in rows]
    decided = [r[1] for r in rows]
    answered = [r[2] for r in rows]
    analysed = [r[3] if r[4] == "analysed" else None for r in rows]
    return pa.table(
        {
            "created": pa.array(created, ts),
            "decided": pa.array(decided, ts),
            "answers_from": pa.array([d or c for c, d in zip(created, decided, strict=True)], ts),
            "answered": pa.array(answered, ts),
            "analysed": pa.array(analysed, ts),
        }
    )


def turnaround_chart(cases: QuerySet) -> Chart:
    table = turnaround_table(cases)
    steps = [
        (_("request → approval"), "created", "decided"),
        (_("approval → answers"), "answers_from", "answered"),
        (_("answers → analysis"), "answered", "analysed"),
        (_("request → analysis"), "created", "analysed"),
    ]
    stages = statistics.turnaround_stages(table, steps).to_pylist()
    names = [s[0] for s in steps]
    # Minutes when every step takes less than an hour: "0.0 h" tells nobody anything.
    longest = max((row["p90_h"] or 0 for row in stages), default=0)
    in_minutes = longest < 1
    scale, unit = (60, _(" min")) if in_minutes else (1, _(" h"))
    median, p90 = _("median"), _("90th percentile beyond the median")
    values: dict[tuple[str, str], float] = {}
    for row in stages:
        if row["median_h"] is not None:
            values[(row["stage"], median)] = round(row["median_h"] * scale, 2)
            values[(row["stage"], p90)] = round((row["p90_h"] - row["median_h"]) * scale, 2)
    if in_minutes:
        title = _("Turnaround times (minutes)")
        description = _(
            "Median minutes per step of %(n)d requests; the lighter bar reaches the 90th "
            "percentile."
        )
    else:
        title = _("Turnaround times (hours)")
        description = _(
            "Median hours per step of %(n)d requests; the lighter bar reaches the 90th percentile."
        )
    chart = bar_chart(
        "turnaround",
        title,
        description % {"n": table.num_rows},
        names,
        [median, p90],
        values,
        category_header=_("Step"),
        value_header=_("Minutes") if in_minutes else _("Hours"),
        unit=unit,
        whole=False,
    )
    chart.headers = [_("Step"), _("Requests"), _("Done"), _("Pending"), _("Median"), _("P90")]
    chart.rows = [
        [
            row["stage"],
            str(row["requests"]),
            str(row["answered"]),
            str(row["pending"]),
            duration(row["median_h"]),
            duration(row["p90_h"]),
        ]
        for row in stages
    ]
    if table.num_rows == 0:
        chart.rows = []  # no request yet: "nothing to show", not an empty axis
    return chart


def duration(hours: float | None) -> str:
    """A duration as people read it: minutes under an hour, hours (one decimal) above."""
    if hours is None:
        return "–"
    if hours < 1:
        return _("%(n)d min") % {"n": round(hours * 60)}
    return _("%(n).1f h") % {"n": hours}


# --- data accesses -----------------------------------------------------------


def access_entries(scope: Scope, since: dt.datetime) -> QuerySet:
    """Audit entries that opened personal data since ``since``: allowed views and
    searches, and exports. Regionally, only those about the region's cases."""
    entries = AuditEntry.objects.filter(at__gte=since).filter(
        Q(action__in=ACCESS_ACTIONS, detail__allowed=True) | Q(action__startswith=EXPORT_PREFIX)
    )
    if not scope.nationwide:
        # A subquery, not a list: a region may hold more cases than SQL parameters allow.
        # Cases are named by number (Case.audit_name); entries written before that, by id.
        numbers = scope.cases.values("case_id")
        case_pks = scope.cases.annotate(pk_text=Cast("pk", CharField())).values("pk_text")
        named = Q(object_id__in=numbers) | Q(object_id__in=case_pks)
        entries = entries.filter(named, object_type="case")
    return entries


def accesses_chart(scope: Scope, days: int) -> Chart:
    since = timezone.now() - dt.timedelta(days=days)
    rows = list(access_entries(scope, since).values_list("actor", "action"))
    table = pa.table(
        {
            "user": pa.array([r[0] for r in rows], pa.string()),
            "action": pa.array(
                [r[1] if not r[1].startswith(EXPORT_PREFIX) else "result.export" for r in rows],
                pa.string(),
            ),
        }
    )
    counts = statistics.counts_by(table, ["user", "action"]).to_pylist()
    per_user = statistics.counts_by(table, ["user"]).to_pylist()[:ACCESS_USERS_SHOWN]
    users = [r["user"] for r in per_user]
    actions = sorted({action_label(r["action"]) for r in counts})
    values = {(r["user"], action_label(r["action"])): r["count"] for r in counts}
    return bar_chart(
        "accesses",
        _("Data accesses per user"),
        _("%(n)d accesses to personal data in the last %(d)d days (the audit log), by kind.")
        % {"n": table.num_rows, "d": days},
        users,
        actions,
        values,
        category_header=_("User"),
        value_header=_("Accesses"),
    )


# --- the page ----------------------------------------------------------------


def _days(params: Any) -> int:
    try:
        return max(1, min(int(params.get("days", ACCESS_DAYS_DEFAULT)), 366))
    except ValueError:
        return ACCESS_DAYS_DEFAULT


def figures(user: Any, params: Any = None) -> dict[str, Any]:
    """Every chart of the dashboard for ``user``'s jurisdiction (None: not available)."""
    params = params or {}
    days = _days(params)
    scope = scope_of(user)
    cases = with_purged(cases_table(held_cases(scope.cases)), purged_case_counts(scope))
    period = curve_period(cases, params)
    return {
        "case_count": int(sum(cases.column("count").to_pylist())),
        "period": period,
        "curves": [curve_chart(cases, "confirmed", period), curve_chart(cases, "onset", period)],
        "requests": requests_chart(scope.cases),
        "turnaround": turnaround_chart(scope.cases),
        "accesses": accesses_chart(scope, days),
        "nationwide": scope.nationwide,
        "days": days,
    }


@require_GET
@access.page("dashboard.view")
def dashboard_page(request: HttpRequest) -> HttpResponse:
    assignment = policy.assignment_of(request.user)
    context = {**figures(request.user, request.GET), "region": assignment.region}
    return render(request, "web/dashboard.html", context)
