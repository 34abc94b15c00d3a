"""ScanParams: the scan's settings, checked once when made."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from epitrace.analysis.hotspots.params import ScanParams

DAY = dt.date(2020, 3, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_radius_m": 0.0}, "max_radius_m must be positive"),
        ({"max_share_of_cases": 1.5}, r"max_share_of_cases must be in \(0, 1\]"),
        ({"max_share_of_population": 0.0}, r"max_share_of_population must be in \(0, 1\]"),
        ({"max_days": 0}, "max_days must be at least 1"),
        ({"min_cases": 0}, "min_cases must be at least 1"),
        ({"replications": -1}, "replications must be 0 or more"),
        ({"max_clusters": 0}, "max_clusters must be at least 1"),
    ],
)
def test_a_setting_out_of_range_is_named(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScanParams(**overrides)


def test_defaults_and_replace() -> None:
    params = ScanParams()
    assert (params.max_radius_m, params.max_days, params.replications) == (1000.0, 7, 999)
    assert ScanParams(max_radius_m=None).max_radius_m is None
    assert params.replace(seed=3) == ScanParams(seed=3)
    with pytest.raises(ValueError, match="max_days"):
        params.replace(max_days=0)


@pytest.mark.parametrize("overrides", [{"prospective": True}, {"adjust_weekday": True}])
def test_population_scans_refuse_what_they_do_not_do(overrides: dict) -> None:
    from epitrace.analysis.hotspots.persons import scan_relabelled
    from epitrace.analysis.hotspots.population import scan_population

    empty = pa.table({})
    with pytest.raises(ValueError, match="scan_population scans retrospectively"):
        scan_population(empty, empty, ScanParams(**overrides))
    with pytest.raises(ValueError, match="scan_relabelled scans retrospectively"):
        scan_relabelled(empty, empty, ScanParams(**overrides), first_day=DAY, last_day=DAY)
