"""The ``epitrace`` command line (contract: spec/cli.md).

Commands are thin: they parse and check arguments, call the library, and turn
expected failures into a one-line error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from epitrace import __version__


class UserError(click.ClickException):
    """A mistake in the user's input: printed as ``Error: ...``, exit code 2."""

    exit_code = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epitrace")
def main() -> None:
    """epitrace: epidemiological investigation support.

    Movement paths, stay points, contacts and outbreak hotspots from the
    records of mobile carriers, card companies and other agencies.
    """


@main.command()
@click.option(
    "--residents",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Number of residents in the city.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=14,
    show_default=True,
    help="Number of simulated days.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed; the same seed gives the same files.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the dataset to (created if missing).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First simulated day, YYYY-MM-DD [default: 2020-02-10].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="parquet",
    show_default=True,
    help="File format of the tables.",
)
@click.option(
    "--outbreak",
    type=click.Choice(["clustered", "null"]),
    default="clustered",
    show_default=True,
    help="clustered: transmission at shared places, with a planted superspreading event; "
    "null: infections spread uniformly over residents and time (no place clustering).",
)
def simulate(
    residents: int,
    days: int,
    seed: int,
    out: Path,
    start: dt.datetime | None,
    fmt: str,
    outbreak: str,
) -> None:
    """Write a synthetic city with an outbreak to OUT, ground truth in OUT/truth/."""
    from epitrace.simulate import OutputFolderError, SimulationConfig, simulate_city

    config = SimulationConfig(residents=residents, days=days, seed=seed, outbreak=outbreak)  # type: ignore[arg-type]
    if start is not None:
        config = config.replace(start=start.date())
    try:
        summary = simulate_city(config, out, fmt=fmt)  # type: ignore[arg-type]
    except OutputFolderError as error:
        raise UserError(str(error)) from None
    click.echo(summary.describe())


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--max-problems",
    type=click.IntRange(min=1),
    default=None,
    help="Print at most this many problems (all are counted).",
)
def validate(folder: Path, max_problems: int | None) -> None:
    """Check every table in FOLDER against the data contract.

    Prints each problem as FILE:LINE: column: reason and exits 1 if there is any.
    """
    from epitrace.formats.validate import validate_dataset

    report = validate_dataset(folder)
    for shown, problem in enumerate(report.problems()):
        if max_problems is not None and shown >= max_problems:
            click.echo(f"... {report.problem_count - shown} more problems not shown")
            break
        click.echo(str(problem))
    click.echo(report.summary(), err=True)
    if not report.ok:
        raise SystemExit(1)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where to write the demo city.",
)
@click.option("--residents", type=click.IntRange(min=100), default=5_000, show_default=True)
def demo(out: Path, residents: int) -> None:
    """The embedded default: simulate a city and show what to do with it."""
    from epitrace.demo import run_demo

    run_demo(out, residents=residents)


if __name__ == "__main__":  # pragma: no cover
    main()
