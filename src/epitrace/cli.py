"""The ``epitrace`` command line (contract: spec/cli.md).

Commands are thin: they parse and check arguments and call the library. Expected
failures are ``epitrace.errors.UserInputError``: the command group turns them, in
one place, into a one-line error and their exit status, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from epitrace import __version__
from epitrace.errors import UsageMistake, UserInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from epitrace.workflows.hotspots import HotspotSearch

F = TypeVar("F", bound="Callable[..., object]")


class Commands(click.Group):
    """epitrace's commands: a ``UserInputError`` from any of them is printed as one line,
    ``Error: <message>``, and exits with its ``exit_code`` (``epitrace.errors``)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserInputError as error:
            failure = click.ClickException(str(error))
            failure.exit_code = error.exit_code
            raise failure from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epitrace")
def main() -> None:
    """epitrace: epidemiological investigation support.

    Movement paths, stay points, contacts and outbreak hotspots from the
    records of mobile carriers, card companies and other agencies.
    """


# --- options several commands share ---

folder_argument = click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
port_option = click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
agency_code_option = click.option(
    "--agency", "code", required=True, help="The hub's code for the agency."
)


def out_folder_option(help_text: str) -> Callable[[F], F]:
    """``--out``: a folder to write to, required."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help=help_text,
    )


def cases_file_option(help_text: str, *, required: bool) -> Callable[[F], F]:
    """``--cases``: a ``cases`` table, as ``cases_file``."""
    return click.option(
        "--cases",
        "cases_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=required,
        default=None,
        help=help_text,
    )


def shown_default_option(
    name: str, kind: click.ParamType | type, default: object, help_text: str, *decls: str
) -> Callable[[F], F]:
    """An option of type ``kind`` whose default ``--help`` shows; ``decls`` adds its
    parameter name when it differs from the option's."""
    return click.option(name, *decls, type=kind, default=default, show_default=True, help=help_text)


def switch_option(name: str, help_text: str, *, on: bool = False) -> Callable[[F], F]:
    """An ``--x/--no-x`` switch, ``on`` by default or not, the default shown."""
    return click.option(name, default=on, show_default=True, help=help_text)


def by_option(verb: str) -> Callable[[F], F]:
    """``--by``: who does it, for the hub's record."""
    return click.option("--by", default="administrator", show_default=True, help=f"Who {verb} it.")


@main.command()
@shown_default_option(
    "--residents", click.IntRange(min=1), 10_000, "Number of residents in the city."
)
@shown_default_option("--days", click.IntRange(1, 366), 14, "Number of simulated days.")
@shown_default_option("--seed", int, 1, "Random seed; the same seed gives the same files.")
@out_folder_option("Folder to write the dataset to (created if missing).")
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First simulated day, YYYY-MM-DD [default: 2020-02-10].",
)
@shown_default_option(
    "--format", click.Choice(["csv", "parquet"]), "parquet", "File format of the tables.", "fmt"
)
@shown_default_option(
    "--outbreak",
    click.Choice(["clustered", "null", "planted"]),
    "clustered",
    "clustered: transmission at shared places, with a planted superspreading event; "
    "null: infections spread uniformly over residents and time (no place clustering); "
    "planted: that null background plus the planted event, its only transmission.",
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
    from epitrace.simulate import SimulationConfig, simulate_city

    config = SimulationConfig(residents=residents, days=days, seed=seed, outbreak=outbreak)  # type: ignore[arg-type]
    if start is not None:
        config = config.replace(start=start.date())
    summary = simulate_city(config, out, fmt=fmt)  # type: ignore[arg-type]
    click.echo(summary.describe())


@main.command()
@folder_argument
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


def _check_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageMistake(f"--tz: unknown time zone {name!r} (e.g. Asia/Seoul, UTC)") from None


class Timestamp(click.ParamType):
    """ISO 8601 with a UTC offset; a time without an offset is refused, never guessed."""

    name = "TS"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset (e.g. 2020-03-02T00:00:00+09:00)", param, ctx)
        return parsed


Window = tuple[dt.datetime | None, dt.datetime | None]


def window_options(what: str) -> Callable[[F], F]:
    """``--from`` and ``--to``: the start and end of WHAT, given to the command
    as ``window`` (start, end), once ``check_window`` passes."""
    from_option = click.option(
        "--from", "start", type=Timestamp(), default=None, help=f"Start of {what} (TS)."
    )
    to_option = click.option(
        "--to", "end", type=Timestamp(), default=None, help=f"End of {what} (TS)."
    )

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def with_window(
            *args: object, start: dt.datetime | None, end: dt.datetime | None, **kw: object
        ) -> object:
            check_window(start, end)
            return command(*args, window=(start, end), **kw)

        return from_option(to_option(with_window))  # type: ignore[return-value]

    return decorate


class Reported(Protocol):
    """A workflow's result: warnings for stderr, one summary for stdout."""

    def messages(self) -> Iterable[str]: ...

    def describe(self) -> str: ...


def report(result: Reported) -> None:
    """Warnings on stderr, then the summary on stdout (docs/cli.md)."""
    for line in result.messages():
        click.echo(line, err=True)
    click.echo(result.describe())


def check_window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    """``--to`` must come after ``--from`` when both are given."""
    if start is not None and end is not None and end <= start:
        raise UsageMistake("--to must come after --from")


@main.command()
@folder_argument
@click.option("--person", "person_ref", required=True, help="The subject's person_ref.")
@window_options("the window")
@click.option(
    "--interview",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="interview_visits file [default: the one in FOLDER, if any].",
)
@click.option("--no-contacts", is_flag=True, help="Do not search for contacts.")
@cases_file_option(
    "cases file giving the infectious window [default: the one in FOLDER, if any].",
    required=False,
)
@click.option(
    "--tz",
    default=None,
    help="Time zone of the output times, e.g. Asia/Seoul [default: the dataset's, else UTC].",
)
@out_folder_option("Folder to write stays.csv, path.geojson, report.html and contacts.csv to.")
def analyze(
    folder: Path,
    person_ref: str,
    window: Window,
    interview: Path | None,
    no_contacts: bool,
    cases_file: Path | None,
    tz: str | None,
    out: Path,
) -> None:
    """One subject's investigation from the provider records in FOLDER.

    FOLDER is a dataset of contract files, or the agencies' built stores
    (`epitrace store build`), which are then asked one by one. Unless
    --no-contacts, the stores are also asked who was at each public stay in
    the infectious window (2 days before onset to confirmation, from the cases
    table; --from/--to override it): contacts.csv, ranked by exposure score.
    """
    from epitrace.workflows import investigation

    start, end = window
    if tz is not None:
        _check_zone(tz)
    result = investigation.analyze(
        folder,
        person_ref,
        out,
        start=start,
        end=end,
        interview_file=interview,
        contacts=not no_contacts,
        cases_file=cases_file,
        tz=tz,
    )
    report(result)


@main.command()
@folder_argument
@shown_default_option(
    "--subjects", click.IntRange(min=1), 50, "How many residents to trace, picked at random."
)
@shown_default_option("--seed", int, 1, "Seed for picking them.")
@shown_default_option(
    "--min-visit-min", click.FloatRange(min=0), 30.0, "Visits at least this long count for recall."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures as JSON to this file.",
)
def evaluate(
    folder: Path, subjects: int, seed: int, min_visit_min: float, json_out: Path | None
) -> None:
    """Stay recall, precision and location error against a simulated FOLDER's truth."""
    import json

    from epitrace.workflows.evaluation import evaluate_dataset

    result = evaluate_dataset(folder, subjects, seed, min_visit_min=min_visit_min)
    click.echo(result.table_text())
    click.echo(
        f"{len(result.subjects)} subjects, {result.seconds_per_subject:.2f} s per subject "
        "(both inputs)",
        err=True,
    )
    if json_out is not None:
        json_out.write_text(json.dumps(result.rows(), indent=1))


@main.command()
@folder_argument
@cases_file_option("The confirmed cases (a `cases` table, CSV or Parquet).", required=True)
@window_options("every case's window")
@shown_default_option(
    "--replications", click.IntRange(min=0), 999, "Monte Carlo replications for the p-values."
)
@shown_default_option("--seed", int, 0, "Seed of the replications.")
@shown_default_option(
    "--max-radius-m",
    click.FloatRange(min=0, min_open=True),
    1000.0,
    "Largest cluster radius in metres.",
)
@shown_default_option(
    "--max-days", click.IntRange(min=1), 7, "Longest cluster time window in days."
)
@switch_option(
    "--adjust-weekday/--no-adjust-weekday",
    "Adjust expected counts for space by day-of-week interaction (SaTScan's "
    "option), so places with weekly schedules (Sunday churches) are not clusters "
    "by themselves.",
)
@shown_default_option(
    "--dated-by",
    click.Choice(["visit", "case"]),
    "visit",
    "visit: every stay of every case, dated by the visit (most power; weekly "
    "schedules inflate significance). case: each case counted once per window, dated "
    "by its likely infection, whole cases permuted (the test's size holds; "
    "docs/accuracy.md).",
)
@click.option(
    "--among-people",
    is_flag=True,
    default=False,
    help="Where every subscriber's records are (a carrier's store, a simulated city): "
    "count the cases among the people present per circle and 3-hour slot, p-values by "
    "relabelling people (docs/accuracy.md). No tracing; --max-days and the permutation "
    "options do not apply.",
)
@switch_option(
    "--week-shifts/--no-week-shifts",
    "With --dated-by visit: replications move whole cases by whole weeks (their "
    "likely days of infection permuted within weekdays), so one case's places and "
    "places' weekly schedules are not clusters by themselves (the test's size holds; "
    "docs/accuracy.md).",
)
@out_folder_option("Folder to write hotspots.csv and hotspot_cases.csv to.")
def hotspots(
    folder: Path,
    cases_file: Path,
    window: Window,
    replications: int,
    seed: int,
    max_radius_m: float,
    max_days: int,
    adjust_weekday: bool,
    dated_by: str,
    week_shifts: bool,
    among_people: bool,
    out: Path,
) -> None:
    """Space-time clusters among the cases in CASES, from their stays traced in FOLDER.

    Each case's window runs from 14 days before onset (or confirmation) to the
    confirmation day; --from and --to replace it for every case.
    """
    from epitrace.analysis.hotspots.params import ScanParams
    from epitrace.progress import counting_bar
    from epitrace.workflows.hotspots import HotspotSearch, find_outbreak_hotspots

    if week_shifts and dated_by == "case":
        raise UsageMistake("--week-shifts goes with --dated-by visit")
    params = ScanParams(
        max_radius_m=max_radius_m,
        max_days=max_days,
        adjust_weekday=adjust_weekday,
        replications=replications,
        seed=seed,
    )
    search = HotspotSearch(folder, cases_file, out, *window, params)
    if among_people:
        if week_shifts or adjust_weekday or dated_by != "visit":
            raise UsageMistake(
                "--among-people has its own null: leave out --week-shifts, "
                "--adjust-weekday and --dated-by"
            )
        _hotspots_among_people(search)
        return
    with counting_bar("tracing cases", unit="case") as counting:
        result = find_outbreak_hotspots(
            search,
            dated_by=dated_by,
            week_shifts=week_shifts,
            on_start=counting.on_start,
            on_case=counting.on_item,
        )
    report(result)


def _hotspots_among_people(search: HotspotSearch) -> None:
    from epitrace.workflows.hotspots_among_people import find_hotspots_among_people

    click.echo(find_hotspots_among_people(search).describe())


@main.command()
@folder_argument
@cases_file_option("The confirmed cases (a `cases` table, CSV or Parquet).", required=True)
@window_options("every case's traced span")
@click.option(
    "--contacts",
    "contacts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The cases' contact lists (a `contacts` table): a case in another's list is a link.",
)
@out_folder_option("Folder to write links.csv, chains.csv and chains.html to.")
def links(
    folder: Path,
    cases_file: Path,
    window: Window,
    contacts_file: Path | None,
    out: Path,
) -> None:
    """Proposed transmission links between the cases in CASES, from their stays in FOLDER.

    Each case is traced from 14 days before onset (or confirmation) to its
    confirmation; --from and --to cut that span for every case. Links join
    cases into chains (docs/links.md).
    """
    from epitrace.progress import counting_bar
    from epitrace.workflows.links import find_links

    start, end = window
    with counting_bar("tracing cases", unit="case") as counting:
        result = find_links(
            folder,
            cases_file,
            out,
            start=start,
            end=end,
            contacts_file=contacts_file,
            on_start=counting.on_start,
            on_case=counting.on_item,
        )
    report(result)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where to write the demo city.",
)
@click.option("--residents", type=click.IntRange(min=100), default=5_000, show_default=True)
@click.option("--serve/--no-serve", default=True, help="Start the hub when set up.")
@port_option
def demo(out: Path, residents: int, serve: bool, port: int) -> None:
    """The embedded default: a simulated city, the hub with one login per role, served
    on http://127.0.0.1:8000 (logins printed once)."""
    from epitrace.demo import run_demo

    run_demo(out, residents=residents, serve=serve, port=port)


@main.command("demo-code")
@click.argument("username")
def demo_code(username: str) -> None:
    """The current TOTP code of a demo account (the demo database only)."""
    from epitrace.demo import current_code

    click.echo(current_code(username))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@port_option
@switch_option(
    "--jobs/--no-jobs",
    "Run background jobs in this process (--no-jobs when epitrace worker runs them).",
    on=True,
)
def serve(host: str, port: int, jobs: bool) -> None:
    """The web system on its configured database: migrate, then serve (waitress)."""
    _hub_ready()
    from epitrace.hub.serving import serve as serve_hub

    serve_hub(host, port, echo=click.echo, jobs=jobs)


# --- provider stores (epitrace store ...) ---


@main.group()
def store() -> None:
    """Provider stores: each agency's own data, laid out for its narrow queries."""


@store.command("build")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@out_folder_option("Folder to write one store per agency to (created if missing).")
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help="Build only this agency's store (repeatable) [default: every agency].",
)
@click.option("--force", is_flag=True, help="Rebuild partitions that already exist.")
def store_build(dataset: Path, out: Path, agencies: tuple[str, ...], force: bool) -> None:
    """Split the contract dataset in DATASET into one provider store per agency.

    Restartable: complete partitions are kept and skipped on the next run.
    """
    from epitrace.providers.store import build_stores

    manifests = build_stores(dataset, out, agencies, force=force)
    for manifest in manifests:
        rows = sum(int(t["rows"]) for t in manifest.tables.values())  # type: ignore[call-overload]
        click.echo(f"{manifest.agency:<28} {manifest.kind:<17} {rows:>12,} rows")
    click.echo(f"{len(manifests)} stores in {out}")


# --- provider agents (epitrace agent, epitrace agent-log ...) ---


@main.command()
@click.option("--agency", required=True, help="The hub's code for this agency, e.g. carrier-skt.")
@click.option(
    "--store",
    "store_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="This agency's built store (one folder of `epitrace store build` output).",
)
@click.option("--hub", required=True, help="The hub's URL, e.g. https://hub.example.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the agency's token [default: $EPITRACE_AGENT_TOKEN].",
)
@shown_default_option(
    "--interval", click.FloatRange(min=0.1), 30.0, "Seconds between looks for new tasks."
)
@click.option("--once", is_flag=True, help="Answer what is pending, then exit.")
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The agent's own log [default: STORE/agent-log.jsonl].",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificate(s) to verify the hub with (a private CA).",
)
def agent(**options: Any) -> None:
    """Answer the hub's approved requests for AGENCY from its own store, and log them."""
    from epitrace.providers.agent import run_from_cli

    # The options are named as run_from_cli's parameters, which say what each is.
    run_from_cli(**options)


@main.group("agent-log")
def agent_log() -> None:
    """A provider agent's own log of what its agency disclosed."""


@agent_log.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agent_log_verify(file: Path) -> None:
    """Check the log's hash chain; exit 1 naming the first bad line."""
    from epitrace.providers.agent_log import verify_log

    check = verify_log(file)
    if check.ok:
        click.echo(f"agent log intact: {check.entries:,} entries, chain verified")
        return
    click.echo(f"agent log BROKEN at line {check.first_bad}: {check.reason}", err=True)
    raise SystemExit(1)


@main.group()
def audit() -> None:
    """The audit log of every access and view of personal data."""


@audit.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
def audit_prune(dry_run: bool) -> None:
    """Remove audit entries past their retention (default 2 years), keeping the chain
    verifiable through a sealed checkpoint."""
    from epitrace.hub import setup

    setup()
    from epitrace.hub.audit.chain import prune_expired, retention

    pruning = prune_expired(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    if pruning.removed == 0:
        click.echo(f"no audit entry is older than {retention().days} days")
        return
    click.echo(
        f"{verb} {pruning.removed:,} entries older than {retention().days} days; "
        f"the chain {'would begin' if dry_run else 'begins'} at #{pruning.first_kept}"
    )


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit log's integrity; exit 1 naming the first bad entry."""
    from epitrace.hub import setup

    setup()
    from django.db import DatabaseError

    from epitrace.hub.audit.chain import verify_chain

    try:
        check = verify_chain()
    except DatabaseError as exc:
        raise click.ClickException(
            f"cannot read the audit log of the configured database ({exc}); "
            "has the hub been set up on it?"
        ) from None
    if check.ok and check.anchor_missing:
        from django.conf import settings

        click.echo(
            f"audit log NOT ANCHORED: {check.entries:,} entries verify, but this host has no "
            f"anchor ({settings.EPITRACE_AUDIT_ANCHOR}): unless this is the first check "
            "after an upgrade, the log may have been wiped and written anew",
            err=True,
        )
        raise SystemExit(1)
    if check.ok:
        seq, seal = check.head
        click.echo(f"audit log intact: {check.entries:,} entries, every seal verified")
        click.echo(f"head: #{seq} {seal or '-'}")
        return
    click.echo(f"audit log BROKEN at entry #{check.first_bad}: {check.reason}", err=True)
    raise SystemExit(1)


@main.command()
@click.option("--dry-run", is_flag=True, help="List what would be destroyed; destroy nothing.")
def purge(dry_run: bool) -> None:
    """Destroy personal data whose retention has ended; print what it destroyed.

    Keys first (crypto-shredding), then rows and files; anonymous counts are kept and
    each destruction is recorded in the audit log. An interrupted purge is finished
    by the next run. Exit 1 if a destruction failed (it is retried on the next run).
    """
    from epitrace.hub import setup

    setup()
    from django.db import DatabaseError

    from epitrace.hub.retention.purge import run_purge

    try:
        report = run_purge(dry_run=dry_run)
    except DatabaseError as exc:
        raise click.ClickException(
            f"cannot purge the configured database ({exc}); has the hub been set up on it?"
        ) from None
    click.echo(report.describe())
    if not report.ok:
        raise SystemExit(1)


# --- the exchange's background jobs and agents' credentials ---


def _hub_ready() -> None:
    from epitrace.hub import setup

    try:
        setup()
    except ValueError as error:  # e.g. an unsupported DATABASE_URL
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--poll", type=click.FloatRange(0.1, 60), default=1.0, show_default=True)
def worker(once: bool, poll: float) -> None:
    """Run the hub's background jobs (requests' rounds and analyses, the daily purge,
    disclosure expiry) until stopped.

    Any number of workers may run against one database: a job is claimed by one of
    them, resumed by another if its worker dies, and its result stored once.
    """
    _hub_ready()
    import threading

    from epitrace.hub.exchange.jobs import run_pending, run_worker
    from epitrace.hub.retention.schedule import housekeeping

    if once:
        click.echo(f"{run_pending()} jobs run")
        return
    stop = threading.Event()
    click.echo("Running background jobs (Ctrl-C stops)")
    try:
        run_worker(stop, poll_seconds=poll, on_idle=housekeeping)
    except KeyboardInterrupt:
        stop.set()


@main.group()
def agency() -> None:
    """Provision the agencies the hub may ask (administrators, on the hub's host)."""


@agency.command("add")
@click.option("--code", required=True, help="The hub's code for the agency, e.g. carrier-skt.")
@click.option("--name", required=True, help="Its name as shown in the hub.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["carrier", "card_issuer", "card_association", "entry_operator"]),
)
@click.option("--store-agency", required=True, help="Its name in its store (as others name it).")
@click.option("--table", "tables", multiple=True, help="A table it may be asked about (repeat).")
@click.option("--by", default="administrator", show_default=True, help="Who provisions it.")
def agency_add(
    code: str, name: str, kind: str, store_agency: str, tables: tuple[str, ...], by: str
) -> None:
    """Register an agency, or set it again: its kind and tables are fixed here, and its
    agent's hello can describe its store only within them."""
    _hub_ready()
    from epitrace.hub.exchange.provisioning import provision_agency

    provision_agency(code, name, kind=kind, store_agency=store_agency, tables=list(tables), by=by)
    click.echo(f"Agency {code} provisioned as {kind} {store_agency!r}")


@main.group("agent-token")
def agent_token() -> None:
    """Issue or revoke an agency agent's credential (administrators)."""


def _agency(code: str) -> object:
    from epitrace.hub.accounts.models import Agency

    agency = Agency.objects.filter(code=code).first()
    if agency is None:
        raise UserInputError(f"no agency {code!r} in the hub")
    return agency


@agent_token.command("issue")
@agency_code_option
@by_option("issues")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the token to this file (mode 0600) for the agent's --token-file.",
)
def agent_token_issue(code: str, by: str, out: Path) -> None:
    """A new credential for an agency's agent, written once to a private file."""
    _hub_ready()
    import os

    from epitrace.hub.exchange.credentials import issue_token

    token = issue_token(_agency(code), by=by)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as sink:
        sink.write(token + "\n")
    click.echo(f"Token for {code} written to {out} (the hub keeps only its digest)")


@agent_token.command("revoke")
@agency_code_option
@by_option("revokes")
def agent_token_revoke(code: str, by: str) -> None:
    """Revoke every live credential of an agency: its agent is refused from its next call."""
    _hub_ready()
    from epitrace.hub.exchange.credentials import revoke_tokens

    click.echo(f"{revoke_tokens(_agency(code), by=by)} credentials of {code} revoked")


if __name__ == "__main__":  # pragma: no cover
    main()
