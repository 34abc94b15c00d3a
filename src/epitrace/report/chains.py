"""``chains.html``: the proposed transmission chains on one offline page.

A graph of the chained cases, each a dot placed by its onset date (else its
confirmation date) on a row of its chain, with the proposed links as arrows
coloured by chain; hovering a dot or an arrow shows its evidence (an SVG
``<title>``, no script). Below: each chain's cases, shared places and dates,
then every proposed link. Labels are Korean first, then English. Nothing
refers to the network, and every value from the data is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

import pyarrow as pa

from epitrace.analysis.links import Chains

# Colour-blind-safe palette (Okabe & Ito), repeated for chains beyond eight.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000")
ROW_PX = 26
DAY_PX = 28
LEFT_PX = 110
TOP_PX = 30

STYLE = """
body{font:14px/1.45 system-ui,'Noto Sans KR',sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{background:#123;color:#fff;padding:12px 20px}header h1{margin:0;font-size:20px}
main{padding:16px 20px}section{background:#fff;border:1px solid #dde;border-radius:6px;
margin:0 0 16px;padding:12px 16px;overflow-x:auto}h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e4e6ea;
padding:3px 8px;text-align:left;vertical-align:top}th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:11px system-ui,sans-serif}.note{color:#555;font-size:13px}
"""


def _day(case_days: dict[str, dt.date], case_id: str) -> dt.date | None:
    return case_days.get(case_id)


def _case_days(cases: pa.Table) -> dict[str, dt.date]:
    days: dict[str, dt.date] = {}
    for row in cases.select(["case_id", "confirmed_date", "onset_date"]).to_pylist():
        onset, confirmed = row["onset_date"], row["confirmed_date"]
        days.setdefault(row["case_id"], onset if onset and onset <= confirmed else confirmed)
    return days


def _graph(chains: Chains, days: dict[str, dt.date], tz: str) -> str:
    rows = chains.table.to_pylist()
    if not rows:
        return '<p class="note">연결된 사례 없음 · No chain: no link reached the threshold.</p>'
    dated = [d for r in rows if (d := _day(days, r["case_id"])) is not None]
    first = min(dated)
    span = (max(dated) - first).days + 1
    place: dict[str, tuple[float, float, str]] = {}
    parts = []
    for n, row in enumerate(rows):
        colour = PALETTE[(row["chain_id"] - 1) % len(PALETTE)]
        day = _day(days, row["case_id"]) or first
        x = LEFT_PX + (day - first).days * DAY_PX + DAY_PX / 2
        y = TOP_PX + n * ROW_PX + ROW_PX / 2
        place[row["case_id"]] = (x, y, colour)
        label = escape(row["case_id"])
        parts.append(
            f"<g><title>{label} · 사슬 chain {row['chain_id']} · 세대 generation "
            f"{row['generation']} · {day.isoformat()}</title>"
            f'<circle cx="{x:.0f}" cy="{y:.0f}" r="6" fill="{colour}"/>'
            f'<text x="{x + 9:.0f}" y="{y + 4:.0f}">{label}</text></g>'
        )
    zone = ZoneInfo(tz)
    for link in chains.links.to_pylist():
        if link["source_case"] not in place or link["target_case"] not in place:
            continue
        x1, y1, colour = place[link["source_case"]]
        x2, y2, _ = place[link["target_case"]]
        when = link["start"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
        evidence = escape(
            f"{link['source_case']} → {link['target_case']}: {link['place_name'] or '?'}, "
            f"{when}, {link['overlap_min']:.0f} min, {link['via']}, score {link['score']:.2f}"
        )
        parts.insert(
            0,
            f'<g><title>{evidence}</title><line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" '
            f'y2="{y2:.0f}" stroke="{colour}" stroke-width="2" marker-end="url(#arrow)"/></g>',
        )
    ticks = [
        f'<text x="{LEFT_PX + k * DAY_PX + 2}" y="14">{(first + dt.timedelta(days=k)):%m-%d}</text>'
        for k in range(0, span, max(1, span // 20))
    ]
    width = LEFT_PX + span * DAY_PX + 120
    height = TOP_PX + len(rows) * ROW_PX + 10
    arrow = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="16" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>'
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" '
        f'aria-label="transmission chains">{arrow}{"".join(ticks)}{"".join(parts)}</svg>'
    )


def _summary_table(chains: Chains) -> str:
    body = "".join(
        f"<tr><td class=num>{r['chain_id']}</td><td class=num>{r['cases']}</td>"
        f"<td>{escape(r['first_case'])}</td><td>{r['first_date']} – {r['last_date']}</td>"
        f"<td>{escape(r['places'])}</td></tr>"
        for r in chains.summary.to_pylist()
    )
    return (
        "<table><tr><th>사슬 Chain</th><th>사례 Cases</th><th>첫 사례 First case</th>"
        "<th>날짜 Dates</th><th>공유 장소 Shared places (links)</th></tr>"
        f"{body}</table>"
    )


def _links_table(links: pa.Table, tz: str) -> str:
    zone = ZoneInfo(tz)
    body = "".join(
        f"<tr><td>{escape(r['source_case'])}</td><td>{escape(r['target_case'])}</td>"
        f"<td>{escape(r['place_name'] or '')}</td>"
        f"<td>{r['start'].astimezone(zone):%Y-%m-%d %H:%M}</td>"
        f"<td class=num>{r['overlap_min']:.0f}</td><td>{escape(r['via'])}</td>"
        f"<td class=num>{r['score']:.3f}</td></tr>"
        for r in links.to_pylist()
    )
    return (
        "<table><tr><th>감염원 Source</th><th>피감염자 Target</th><th>장소 Place</th>"
        "<th>시작 Start</th><th>분 Minutes</th><th>근거 Via</th><th>점수 Score</th></tr>"
        f"{body}</table>"
    )


def render_chains(links: pa.Table, chains: Chains, cases: pa.Table, *, tz: str) -> str:
    """The whole page as one string (UTF-8 HTML, no external reference)."""
    days = _case_days(cases)
    return (
        '<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\"><title>전파 사슬 · Transmission chains</title>"
        f"<style>{STYLE}</style></head><body><header><h1>전파 사슬 · Transmission chains</h1>"
        f"<div>{cases.num_rows} 사례 cases · {links.num_rows} 제안된 연결 proposed links · "
        f"{chains.summary.num_rows} 사슬 chains · 시간대 times in {escape(tz)}</div></header><main>"
        "<section><h2>사슬 그래프 · Chains by onset date</h2>"
        '<p class="note">점: 발병일(없으면 확진일) · dot: onset date (else confirmation); '
        "화살표: 제안된 연결, 마우스를 올리면 근거 · arrow: proposed link, hover for evidence.</p>"
        f"{_graph(chains, days, tz)}</section>"
        f"<section><h2>사슬 · Chains</h2>{_summary_table(chains)}</section>"
        f"<section><h2>제안된 연결 · Proposed links</h2>"
        '<p class="note">점수: 이 감염원이 전파했을 가능성(0–1) · score: how likely this source '
        "infected the target (0–1), against every other candidate source.</p>"
        f"{_links_table(links, tz)}</section></main></body></html>"
    )
