"""``epitrace demo``: the embedded default, ready for a newcomer.

The demo builds a simulated city with an outbreak, checks it against the data
contract, then sets up the hub on the embedded database (SQLite in
``EPITRACE_HOME``, default ``var/``): the city's districts as regions, its carriers,
card issuers and entry-log operators as agencies, one account per role with a fresh
random password and a pre-enrolled TOTP device, all printed once on the terminal.
Then it serves the hub on http://127.0.0.1:8000 over plain HTTP (local only).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from epitrace.defaults import DEFAULT_TZ
from epitrace.errors import UserInputError
from epitrace.formats.validate import validate_dataset

if TYPE_CHECKING:
    from epitrace.simulate import SimulationConfig

DEMO_SEED = 20200218  # the day Daegu's Shincheonji cluster was found


def demo_start(days: int, today: dt.date | None = None) -> dt.date:
    """The first day of the demo's city: ``days`` days before ``today`` (default: today
    in Asia/Seoul), so that its last day is yesterday. The hub's clock is today, and
    the disclosure's 14-day expiry (hub/disclosure) leaves a recent city's places on
    the public list."""
    today = today or dt.datetime.now(zoneinfo.ZoneInfo(DEFAULT_TZ)).date()
    return today - dt.timedelta(days=days)


def demo_config(residents: int, days: int, today: dt.date | None = None) -> SimulationConfig:
    """The demo's simulated city: the simulator's defaults, the demo's seed, dated to end
    yesterday (``demo_start``). The CLI's ``simulate`` keeps its fixed 2020 start."""
    from epitrace.simulate import SimulationConfig

    return SimulationConfig(
        residents=residents, days=days, seed=DEMO_SEED, start=demo_start(days, today)
    )


def _cases_to_investigate(folder: Path, count: int = 3) -> list[str]:
    from epitrace.formats.readers import read_dataset_table
    from epitrace.simulate.run import cases_confirmed_last

    cases = read_dataset_table(folder, "cases")
    return [] if cases is None else cases_confirmed_last(cases.table, count)


def _is_complete_dataset(folder: Path, config: SimulationConfig) -> bool:
    """The demo's city of ``config`` is there already: same seed, same first day (a city
    simulated on an earlier day is made again, dated anew)."""
    manifest = folder / "manifest.json"
    try:
        written = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    start = written.get("config", {}).get("start")
    return written.get("seed") == DEMO_SEED and start == config.start.isoformat()


def run_demo(
    out: Path,
    residents: int = 5_000,
    days: int = 14,
    *,
    serve: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    from epitrace.simulate import simulate_city

    out = Path(out)
    config = demo_config(residents, days)
    fresh = not _is_complete_dataset(out, config)
    if not fresh:
        click.echo(f"Using the demo city already in {out}/ (delete it to make a new one).")
    else:
        last = config.start + dt.timedelta(days=days - 1)
        click.echo(
            f"Simulating a city of {residents:,} residents over {days} days "
            f"({config.start} to {last}) in {out}/ ..."
        )
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
        f"      all commands\n"
    )
    if subjects:
        click.echo(f"Confirmed cases to investigate: {', '.join(subjects)} (e.g. {subject}).")
    stores = _build_demo_stores(out, rebuild=fresh)
    click.echo("\nSetting up the hub on the embedded database ...")
    print_logins(setup_hub(out, stores))
    from epitrace.hub.retention.purge import run_purge  # issue 9: what the purge would do

    click.echo("\n" + run_purge(dry_run=True).describe())
    _serve_or_say_how(serve, host, port, stores)


def _build_demo_stores(out: Path, rebuild: bool) -> Path:
    """Each agency's own store, cut from the city (skipped when already built, unless
    the city is new: ``rebuild``)."""
    from epitrace.providers.store import build_stores

    stores = out / "stores"
    click.echo(f"\nBuilding each agency's own store in {stores}/ ...")
    built = build_stores(out, stores, force=rebuild)
    click.echo(f"{len(built)} agency stores ready (carriers, card issuers, association, ...)")
    return stores


def _start_agents(stores: Path, host: str, port: int) -> object:
    """One agent per agency, as threads beside the hub, each with a fresh credential."""
    from epitrace.hub.exchange.agents_local import fresh_tokens, start_local_agents
    from epitrace.hub.exchange.provisioning import register_store_agencies

    agencies = register_store_agencies(stores)
    tokens = fresh_tokens(agencies, by=SETUP_BY)
    click.echo(
        f"Starting {len(agencies)} agency agents (each answers its own agency's approved "
        f"requests from its store under {stores}/; logs: <store>/agent-log.jsonl)"
    )
    return start_local_agents(agencies, tokens, host, port)


def _serve_or_say_how(serve: bool, host: str, port: int, stores: Path | None = None) -> None:
    click.echo(
        "\nThe demo serves plain HTTP on loopback (EPITRACE_SSL_REDIRECT=0, "
        "EPITRACE_COOKIE_SECURE=0);\nin service the hub sits behind a TLS proxy "
        "(docs/operations.md)."
    )
    if not serve:
        click.echo(
            "Start it with: EPITRACE_SSL_REDIRECT=0 EPITRACE_COOKIE_SECURE=0 "
            f".venv/bin/epitrace serve --port {port}"
        )
        return
    from epitrace.hub.serving import serve as serve_hub

    agents = _start_agents(stores, host, port) if stores is not None else None
    click.echo(f"Open http://{host}:{port}/ and sign in with a login above.\n")
    try:
        serve_hub(host, port, echo=click.echo)
    finally:
        if agents is not None:
            agents.stop()  # type: ignore[attr-defined]


# --- the hub, set up for the demo ---

# The demo serves plain HTTP on loopback: no HTTPS redirect and no Secure-only cookies.
# In service the hub sits behind the TLS proxy of docs/operations.md instead.
LOCAL_HTTP = {"EPITRACE_SSL_REDIRECT": "0", "EPITRACE_COOKIE_SECURE": "0"}
DEMO_MARKER = "demo-hub.json"  # in EPITRACE_HOME: which database the demo set up
SETUP_BY = "epitrace-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    where: str
    password: str
    otpauth_uri: str
    secret: str


def _distinct(folder: Path, table: str, column: str) -> list[str]:
    from epitrace.formats.readers import read_dataset_table

    loaded = read_dataset_table(folder, table)
    if loaded is None or column not in loaded.table.column_names:
        return []
    return sorted({str(v) for v in loaded.table.column(column).to_pylist() if v})


def _places(folder: Path, stores: Path | None) -> tuple[list, list]:
    """Regions: the cases' 시군구; agencies from the agencies' built stores."""
    from epitrace.hub.accounts.regions import region_for
    from epitrace.hub.exchange.provisioning import register_store_agencies

    regions = [region_for(code) for code in _distinct(folder, "cases", "region")]
    agencies = [a.agency for a in register_store_agencies(stores)] if stores else []
    return regions, agencies


DEMO_CASES = 12  # the cases confirmed last are registered, ready for requests


def _register_demo_cases(folder: Path) -> int:
    """Register the cases confirmed last (synthetic identifiers); once per database."""
    from epitrace.hub.cases.records import cases_matching
    from epitrace.hub.exchange.provisioning import register_dataset_cases

    refs = _cases_to_investigate(folder, DEMO_CASES)
    wanted = [ref for ref in refs if not cases_matching("person_ref", ref)]
    return len(register_dataset_cases(folder, wanted, by=SETUP_BY)) if wanted else 0


def _accounts(regions: list, agencies: list) -> list[tuple[str, str, dict]]:
    """(username, role, binding) for one account per role."""
    carriers = [a for a in agencies if a.code.startswith("carrier-")] or agencies
    region_binding = {"region": regions[0]} if regions else {}
    agency_binding = {"agency": carriers[0]} if carriers else {}
    accounts = [("national", "national_investigator", {})]
    if region_binding:
        accounts.append(("regional", "regional_investigator", region_binding))
    accounts.append(("police", "police_approver", {}))
    if agency_binding:
        accounts.append(("provider", "provider_operator", agency_binding))
    accounts += [("auditor", "auditor", {}), ("admin", "administrator", {})]
    return accounts


def _demo_account(username: str, role: str, binding: dict) -> DemoLogin:
    """Create or reuse the account; a new password each run, the same TOTP key."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from epitrace.hub.accounts.roles import assign_role, current_assignment
    from epitrace.hub.web.models import Preference

    user, _ = get_user_model().objects.get_or_create(username=username)
    password = secrets.token_urlsafe(15)  # 20 characters, about 120 bits
    user.set_password(password)
    user.is_active = True
    user.save()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
    now = current_assignment(user)
    place = binding.get("region") or binding.get("agency")
    if now is None or now.role != role or (place and place not in (now.region, now.agency)):
        assign_role(user, role, by=SETUP_BY, reason="demo account", **binding)
    # Korean by default; the header's switch (kept per account) changes it.
    Preference.objects.get_or_create(user=user, defaults={"language": "ko"})
    where = f"{place.name} ({place.code})" if place else "nationwide"
    secret = _base32(device.bin_key)
    return DemoLogin(username, role, where, password, device.config_url, secret)


def _base32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")


def prepare_local_http() -> None:
    for name, value in LOCAL_HTTP.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("EPITRACE_LANGUAGE", "ko")  # the demo's pages are Korean by default


def setup_hub(folder: Path, stores: Path | None = None) -> list[DemoLogin]:
    """Migrate the embedded database and fill it with the city's places and the accounts."""
    prepare_local_http()
    from epitrace.hub import setup

    setup()
    from django.conf import settings
    from django.db import transaction

    from epitrace.hub.serving import migrate

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        raise UserInputError("the demo sets up the embedded database only: unset DATABASE_URL")
    migrate(click.echo)
    with transaction.atomic():
        regions, agencies = _places(folder, stores)
        logins = [_demo_account(*account) for account in _accounts(regions, agencies)]
        registered = _register_demo_cases(folder)
    marker = settings.HOME / DEMO_MARKER
    marker.write_text(json.dumps({"database": settings.DATABASES["default"]["NAME"]}))
    click.echo(
        f"Hub set up: {len(regions)} regions, {len(agencies)} agencies, {len(logins)} accounts, "
        f"{registered} cases registered"
    )
    return logins


def print_logins(logins: list[DemoLogin]) -> None:
    click.echo(
        "\nDemo logins (shown only now; run the demo again for new passwords).\n"
        "Add each TOTP secret to an authenticator app, or get the current code with\n"
        "  .venv/bin/epitrace demo-code USERNAME\n"
    )
    for login in logins:
        click.echo(f"  {login.username:<9} {login.role:<22} {login.where}")
        click.echo(f"      password: {login.password}")
        click.echo(f"      TOTP secret: {login.secret}")
        click.echo(f"      {login.otpauth_uri}")


def current_code(username: str) -> str:
    """The current TOTP code of a demo account; refused for any other database."""
    prepare_local_http()
    from epitrace.hub import setup

    setup()
    from django.conf import settings
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    marker = settings.HOME / DEMO_MARKER
    database = settings.DATABASES["default"]["NAME"]
    try:
        is_demo = json.loads(marker.read_text()).get("database") == database
    except (OSError, ValueError):
        is_demo = False
    if not is_demo or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        raise UserInputError("demo-code works on the demo database only (run epitrace demo)")
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        raise UserInputError(f"no demo account {username!r} with a TOTP device")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
