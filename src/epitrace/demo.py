"""``epitrace demo``: the embedded default, ready for a newcomer.

Until the web hub exists, the demo builds a simulated city with an outbreak,
checks it against the data contract, and prints what was made and what to run
next with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from epitrace.formats.validate import validate_dataset

DEMO_SEED = 20200218  # the day Daegu's Shincheonji cluster was found


def _cases_to_investigate(folder: Path, count: int = 3) -> list[str]:
    from epitrace.formats.readers import read_dataset_table
    from epitrace.simulate.run import cases_confirmed_last

    cases = read_dataset_table(folder, "cases")
    return [] if cases is None else cases_confirmed_last(cases.table, count)


def _is_complete_dataset(folder: Path) -> bool:
    manifest = folder / "manifest.json"
    try:
        return json.loads(manifest.read_text()).get("seed") == DEMO_SEED
    except (OSError, ValueError):
        return False


def run_demo(out: Path, residents: int = 5_000, days: int = 14) -> None:
    from epitrace.simulate import SimulationConfig, simulate_city

    out = Path(out)
    if _is_complete_dataset(out):
        click.echo(f"Using the demo city already in {out}/ (delete it to make a new one).")
    else:
        click.echo(f"Simulating a city of {residents:,} residents over {days} days in {out}/ ...")
        config = SimulationConfig(residents=residents, days=days, seed=DEMO_SEED)
        summary = simulate_city(config, out, fmt="csv")
        click.echo(summary.describe())
    report = validate_dataset(out)
    verdict = "passes" if report.ok else "FAILS"
    click.echo(f"\nData contract check {verdict}: {report.summary()}")
    subjects = _cases_to_investigate(out)
    subject = subjects[0] if subjects else "P000001"
    click.echo(
        "\nWhat to try next:\n"
        f"  .venv/bin/epitrace analyze {out} --person {subject} --out {out}/case-{subject}\n"
        f"      the subject's stays, path and an offline report: report.html there\n"
        f"  .venv/bin/epitrace evaluate {out} --subjects 50\n"
        f"      how close the stays are to the simulated truth\n"
        f"  .venv/bin/epitrace validate {out}\n"
        f"      check every table against the data contract\n"
        f"  .venv/bin/epitrace --help\n"
        f"      all commands; the web system comes with the hub\n"
    )
    if subjects:
        click.echo(f"Confirmed cases to investigate: {', '.join(subjects)} (e.g. {subject}).")
