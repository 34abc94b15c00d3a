"""``epitrace evaluate``: stay accuracy against a simulated dataset's ground truth.

Picks subjects at random (seeded) among the residents with a phone, traces
each from all their records and from their telecom records alone, and scores
both against ``truth/visits`` (see ``epitrace.analysis.evaluation``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.evaluation import StayScore, score_stays
from epitrace.analysis.trajectory import TrajectoryParams, trace_subject
from epitrace.errors import UserInputError
from epitrace.formats.readers import read_dataset_table
from epitrace.progress import track
from epitrace.providers.dataset import DatasetStore

SOURCE_SETS: dict[str, tuple[str, ...] | None] = {
    "all sources": None,
    "telecom only": ("telecom",),
}


class EvaluationError(UserInputError):
    """The dataset cannot be evaluated (no ground truth, no subjects)."""


@dataclass
class Evaluation:
    subjects: list[str]
    scores: dict[str, StayScore] = field(default_factory=dict)
    seconds_per_subject: float = 0.0

    def rows(self) -> list[dict[str, object]]:
        return [{"input": name, **score.summary()} for name, score in self.scores.items()]

    def table_text(self) -> str:
        header = (
            f"{'input':<14} {'visits≥30m':>10} {'recall':>7} {'stays':>6} {'precision':>9} "
            f"{'r≤700m':>7} {'r>700m':>7} {'median err m':>12} {'precise err m':>13}"
        )
        lines = [header]
        for row in self.rows():
            lines.append(
                f"{row['input']:<14} {row['visits']:>10} {row['recall']:>7.3f} "
                f"{row['stays']:>6} {row['precision']:>9.3f} "
                f"{row['tight_precision']:>7.3f} {row['loose_precision']:>7.3f} "
                f"{row['median_error_m']:>12.1f} {row['median_precise_error_m']:>13.1f}"
            )
        return "\n".join(lines)


def _truth(folder: Path, name: str) -> pa.Table:
    loaded = read_dataset_table(folder, name)
    if loaded is None:
        raise EvaluationError(
            f"{folder} has no truth/{name}: only simulated datasets can be evaluated"
        )
    return loaded.table


def pick_subjects(folder: Path, count: int, seed: int) -> list[str]:
    subscribers = read_dataset_table(folder, "subscribers")
    if subscribers is None or subscribers.table.num_rows == 0:
        raise EvaluationError(f"{folder} has no subscribers to pick subjects from")
    people = np.unique(np.asarray(subscribers.table.column("person_ref").to_pylist(), dtype=object))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(people), size=min(count, len(people)), replace=False)
    return sorted(str(people[i]) for i in chosen)


def evaluate_dataset(
    folder: Path,
    subjects: int = 50,
    seed: int = 1,
    params: TrajectoryParams | None = None,
    min_visit_min: float = 30.0,
) -> Evaluation:
    folder = Path(folder)
    visits, places = _truth(folder, "visits"), _truth(folder, "places")
    chosen = pick_subjects(folder, subjects, seed)
    evaluation = Evaluation(chosen, {name: StayScore() for name in SOURCE_SETS})
    store = DatasetStore(folder)
    began = time.perf_counter()
    for person in track(chosen, "subjects", unit="subject"):
        records = store.subject(person)
        truth = visits.filter(pc.equal(visits.column("person_ref"), person))
        for name, sources in SOURCE_SETS.items():
            subset = records if sources is None else records.only(*sources)
            stays = trace_subject(subset, params).stays
            evaluation.scores[name] += score_stays(stays, truth, places, min_visit_min)
    evaluation.seconds_per_subject = (time.perf_counter() - began) / max(len(chosen), 1)
    return evaluation
