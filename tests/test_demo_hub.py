"""``epitrace demo`` sets up the hub with one login per role; ``epitrace serve`` serves it.

Both run as subprocesses on their own EPITRACE_HOME (the embedded SQLite database),
as a newcomer would run them; then a login printed by the demo signs in with TOTP
over real HTTP.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EPITRACE = [sys.executable, "-m", "epitrace.cli"]
ROLES = {
    "national": "national_investigator",
    "regional": "regional_investigator",
    "police": "police_approver",
    "provider": "provider_operator",
    "auditor": "auditor",
    "admin": "administrator",
}


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        EPITRACE_HOME=str(home),
        EPITRACE_SSL_REDIRECT="0",
        EPITRACE_COOKIE_SECURE="0",
        DJANGO_SETTINGS_MODULE="epitrace.hub.settings",
    )
    return env


def run(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        EPITRACE + args, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def logins(output: str) -> dict[str, dict[str, str]]:
    """username -> role, password and TOTP secret, as printed by the demo."""
    found = {}
    pattern = re.compile(
        r"^  (\w+)\s+(\w+)\s+.*\n\s+password: (\S+)\n\s+TOTP secret: (\S+)", re.MULTILINE
    )
    for user, role, password, secret in pattern.findall(output):
        found[user] = {"role": role, "password": password, "secret": secret}
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("demo")
    env = environment(root / "var")
    args = ["demo", "--no-serve", "--out", str(root / "city"), "--residents", "300"]
    first = run(args, env)
    second = run(args, env)
    return {"root": root, "env": env, "first": first.stdout, "second": second.stdout}


def test_demo_creates_one_login_per_role(demo: dict[str, Any]) -> None:
    first = logins(demo["first"])
    assert {user: login["role"] for user, login in first.items()} == ROLES
    for login in first.values():
        assert len(login["password"]) >= 16 and len(login["secret"]) >= 16
    assert "127.0.0.1:8000" in demo["first"] or "epitrace serve" in demo["first"]
    assert "EPITRACE_SSL_REDIRECT=0" in demo["first"]


def test_demo_again_reuses_the_city_and_resets_passwords(demo: dict[str, Any]) -> None:
    first, second = logins(demo["first"]), logins(demo["second"])
    assert "Using the demo city already" in demo["second"]
    assert set(second) == set(first)
    for user in first:
        assert second[user]["password"] != first[user]["password"]
        assert second[user]["secret"] == first[user]["secret"]  # the app keeps working
    for folder in (Path.cwd(), demo["root"] / "city"):
        for login in second.values():  # passwords are printed, never written
            assert not any(
                login["password"] in p.read_text(errors="ignore")
                for p in folder.glob("*")
                if p.is_file() and p.stat().st_size < 1_000_000
            )


def test_demo_code_only_on_the_demo_database(demo: dict[str, Any], tmp_path: Path) -> None:
    code = run(["demo-code", "auditor"], demo["env"]).stdout.strip()
    assert re.fullmatch(r"\d{6}", code)
    elsewhere = run(["demo-code", "auditor"], environment(tmp_path), check=False)
    assert elsewhere.returncode != 0 and "demo database only" in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(demo: dict[str, Any]) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [*EPITRACE, "serve", "--port", str(port)],
        env=demo["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/csrf", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "The hub stopped." in out and "Traceback" not in err


def app_code(secret: str, ahead: int = 0) -> str:
    import base64

    from django_otp.oath import totp

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, t0=-30 * ahead):06d}"


def form_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


# What the home page links to for each demo account: only what its role may see.
HOME_LINKS = {
    "national": ["/cases", "/hotspots", "/requests", "/regions", "/dashboard"],
    "regional": ["/cases", "/hotspots", "/requests", "/regions", "/dashboard"],
    "police": ["/requests"],
    "provider": ["/requests"],
    "auditor": ["/audit", "/audit/review"],
    "admin": ["/dashboard", "/users", "/retention"],
}


# Runs before the API sign-in below: a TOTP code is accepted once per 30-second step, so
# the pages use this step's code (demo-code) and the API test the next step's.
def test_each_demo_login_signs_in_through_the_pages(demo: dict[str, Any], served: str) -> None:
    """The must-show: log in as each role with TOTP and see only what the role may see."""
    for user, login in logins(demo["second"]).items():
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = opener.open(f"{served}/login").read().decode()
        form = {"username": user, "password": login["password"]}
        answer = opener.open(
            f"{served}/login",
            urllib.parse.urlencode({"csrfmiddlewaretoken": form_token(page), **form}).encode(),
        )
        assert answer.geturl().endswith("/verify"), user
        code = run(["demo-code", user], demo["env"]).stdout.strip()
        body = {"csrfmiddlewaretoken": form_token(answer.read().decode()), "token": code}
        home = opener.open(f"{served}/verify", urllib.parse.urlencode(body).encode())
        text = home.read().decode()
        assert re.findall(r'<li><a href="([^"]+)"', text) == HOME_LINKS[user], user
        for link in HOME_LINKS[user]:
            assert opener.open(served + link).status == 200
        for link in {"/regions", "/users", "/audit"} - set(HOME_LINKS[user]):
            with pytest.raises(urllib.error.HTTPError) as refused:
                opener.open(served + link)
            assert refused.value.code == 403, (user, link)


def test_serve_answers_and_a_demo_login_signs_in_with_totp(
    demo: dict[str, Any], served: str
) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = json.load(opener.open(f"{served}/api/csrf"))["csrf_token"]

    def post(path: str, body: dict[str, str]) -> Any:
        request = urllib.request.Request(
            served + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )
        return json.load(opener.open(request))

    login = logins(demo["second"])["auditor"]
    assert post("/api/login", {"username": "auditor", "password": login["password"]}) == {
        "second_factor": "verify"
    }
    token = json.load(opener.open(f"{served}/api/csrf"))["csrf_token"]  # new after login
    # As an authenticator app with the printed secret computes it; one 30-second step
    # ahead (within the accepted drift), since the page walk may have used this step's.
    code = app_code(login["secret"], ahead=1)
    assert post("/api/otp/verify", {"token": code}) == {"verified": True}
    whoami = json.load(opener.open(f"{served}/api/whoami"))
    assert whoami["username"] == "auditor" and whoami["role"] == "auditor"
    home = opener.open(f"{served}/").read().decode()
    assert 'href="/audit"' in home and 'href="/users"' not in home


def test_serve_refuses_a_port_in_use(demo: dict[str, Any], served: str) -> None:
    port = served.rsplit(":", 1)[1]
    done = run(["serve", "--port", port], demo["env"], check=False)
    assert done.returncode == 1 and "already running" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = environment(tmp_path) | {"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:9/none"}
    done = run(["serve", "--port", str(free_port())], env, check=False)
    assert done.returncode == 1 and "database is unreachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_city_ends_yesterday_in_seoul(demo: dict[str, Any]) -> None:
    """Recent enough for the public disclosure (entries expire 14 days after exposure);
    the simulator's own default start, the CLI's, stays in February 2020."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from epitrace.simulate import SimulationConfig

    manifest = json.loads((demo["root"] / "city" / "manifest.json").read_text())
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    end = dt.datetime.fromisoformat(manifest["period"]["end"]).astimezone(ZoneInfo("Asia/Seoul"))
    assert end.date() == today and end.time() == dt.time(0, 0)  # the end of yesterday
    assert manifest["config"]["start"] == str(today - dt.timedelta(days=manifest["period"]["days"]))
    assert SimulationConfig().start == dt.date(2020, 2, 10)
