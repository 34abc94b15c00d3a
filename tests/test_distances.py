"""One sphere for every distance: the NumPy and the plain forms agree."""

from __future__ import annotations

import numpy as np
import pytest

from epitrace.distances import EARTH_RADIUS_M, distance_m, point_distance_m


def test_both_forms_measure_the_same_distance() -> None:
    lats, lons = np.array([35.87, 35.88, 37.56]), np.array([128.60, 128.61, 126.97])
    many = distance_m(35.87, 128.60, lats, lons)
    pairs = zip(lats, lons, strict=True)
    one_by_one = [point_distance_m((35.87, 128.60), (a, b)) for a, b in pairs]
    np.testing.assert_allclose(many, one_by_one, rtol=1e-12, atol=1e-9)
    assert many[0] == 0.0 and 1_000 < many[1] < 1_500


def test_a_quarter_meridian_is_a_quarter_of_the_sphere() -> None:
    assert point_distance_m((0.0, 0.0), (90.0, 0.0)) == pytest.approx(np.pi / 2 * EARTH_RADIUS_M)
