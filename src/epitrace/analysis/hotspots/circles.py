"""Candidate circles of the scan: each centre's locations in order of distance.

A circle around a centre is the set of locations within some radius. Growing
the radius adds the next-nearest location (or several at once when they are
at exactly the same distance), so all the circles of one centre are the
prefixes of its neighbour list that end at a change of distance: a *step*.
Circles stop before the radius passes ``max_radius_m`` or the cases inside
pass ``max_cases`` (SaTScan's "maximum spatial size", for the space-time
permutation model a share of all cases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Circles:
    """Neighbour lists of all centres in one CSR layout.

    Entries ``start[c]:start[c + 1]`` are centre ``c``'s locations by
    increasing distance. ``closes_step`` marks the last entry of a group at one
    distance: only there is the prefix a circle, with ``cases_inside`` cases and
    radius ``distance_m``.
    """

    start: np.ndarray  # int64[C + 1]
    location: np.ndarray  # int32[E]
    distance_m: np.ndarray  # float64[E]
    closes_step: np.ndarray  # bool[E]
    cases_inside: np.ndarray  # int64[E], cumulative cases of the centre's prefix

    @property
    def n_centres(self) -> int:
        return int(self.start.size - 1)


def candidate_circles(
    centre_xy: np.ndarray,
    location_xy: np.ndarray,
    location_cases: np.ndarray,
    *,
    max_radius_m: float | None,
    max_cases: int,
) -> Circles:
    """All circles around ``centre_xy`` (C×2 metres) over the locations.

    ``location_cases`` are the cases of each location (all ≥ 1 for case
    locations). Without ``max_radius_m`` every centre is paired with as many
    nearest locations as could fit under ``max_cases``, which needs memory in
    centres × that number: give a radius for large inputs.
    """
    centre, location, distance = _pairs_by_distance(
        centre_xy, location_xy, location_cases, max_radius_m=max_radius_m, max_cases=max_cases
    )
    n_centres = centre_xy.shape[0]
    start = np.zeros(n_centres + 1, dtype=np.int64)
    np.cumsum(np.bincount(centre, minlength=n_centres), out=start[1:])

    cases_inside = _cumsum_per_centre(location_cases[location].astype(np.int64), start)
    same_as_next = (centre[1:] == centre[:-1]) & (distance[1:] == distance[:-1])
    closes_step = ~np.append(same_as_next, False)[: centre.size]
    # The cases of a circle are those at its step's end; an entry is usable only
    # if the circle that it belongs to stays within max_cases.
    step_cases = _cases_at_step_end(cases_inside, closes_step)
    keep = step_cases <= max_cases
    start_kept = np.zeros(n_centres + 1, dtype=np.int64)
    np.cumsum(np.bincount(centre[keep], minlength=n_centres), out=start_kept[1:])
    return Circles(
        start=start_kept,
        location=location[keep].astype(np.int32),
        distance_m=distance[keep],
        closes_step=closes_step[keep],
        cases_inside=cases_inside[keep],
    )


def _pairs_by_distance(
    centre_xy: np.ndarray,
    location_xy: np.ndarray,
    location_cases: np.ndarray,
    *,
    max_radius_m: float | None,
    max_cases: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, location, distance) pairs sorted by centre, distance, location."""
    tree = cKDTree(location_xy)
    if max_radius_m is not None:
        pairs = cKDTree(centre_xy).sparse_distance_matrix(tree, max_radius_m, output_type="ndarray")
        centre = pairs["i"].astype(np.int64)
        location = pairs["j"].astype(np.int64)
        distance = pairs["v"].astype(float)  # includes distance == max_radius_m
    else:
        # No circle can hold more locations than the smallest ones that fit.
        smallest_first = np.cumsum(np.sort(location_cases))
        k = min(int(np.searchsorted(smallest_first, max_cases, side="right")) + 1, len(location_xy))
        distance, location = tree.query(centre_xy, k=k)
        distance = np.asarray(distance, dtype=float).reshape(len(centre_xy), k).ravel()
        location = np.asarray(location, dtype=np.int64).reshape(len(centre_xy), k).ravel()
        centre = np.repeat(np.arange(len(centre_xy), dtype=np.int64), k)
    order = np.lexsort((location, distance, centre))
    return centre[order], location[order], distance[order]


def _cumsum_per_centre(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[start[:-1]]
    return total - np.repeat(before, np.diff(start))


def _cases_at_step_end(cases_inside: np.ndarray, closes_step: np.ndarray) -> np.ndarray:
    """For each entry, the cumulative cases at the end of its step."""
    step_of_entry = np.concatenate([[0], np.cumsum(closes_step[:-1])])
    return cases_inside[closes_step][step_of_entry] if cases_inside.size else cases_inside
