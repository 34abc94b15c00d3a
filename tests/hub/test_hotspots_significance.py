"""The hotspot page lists only significant clusters as suspected outbreak areas (issue
#19): p below ``EPITRACE_HOTSPOT_ALPHA`` (0.05), the others apart as not significant,
and the map draws only the former as suspected."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hub_seed import cluster, make_case, scanned

from epitrace.hub.accounts.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def table_rows(html: str, table_id: str) -> list[str]:
    """The cluster numbers of one table on the page ([] when the table is absent)."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    return re.findall(r'<th scope="row">(\d+)</th>', found.group(1)) if found else []


def map_clusters(html: str) -> dict[int, bool]:
    data = re.search(r'id="hotspot-map-data"[^>]*>(.*?)</script>', html, re.S)
    assert data is not None
    return {c["number"]: c["significant"] for c in json.loads(data.group(1))["clusters"]}


@pytest.fixture
def page(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> Callable[[], str]:
    cases = [make_case(places["seoul"], f"P{n:06d}") for n in range(3)]
    ids = [c.case_id for c in cases]
    # As a scan reports them, most likely first: one significant, two not (p 0.92, 1.00).
    scanned(cases, [cluster(1, 0.003, ids), cluster(2, 0.92, ids[:2]), cluster(3, 1.0, ids[:1])])
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    return lambda: client.get("/hotspots").content.decode()


def test_only_significant_clusters_are_suspected(page: Callable[[], str]) -> None:
    html = page()
    assert "Suspected outbreak areas (p &lt; 0.05)" in html
    assert table_rows(html, "clusters") == ["1"]
    assert table_rows(html, "clusters-not-significant") == ["2", "3"]
    assert map_clusters(html) == {1: True, 2: False, 3: False}


def test_the_significance_level_is_the_operators(page: Callable[[], str], settings: Any) -> None:
    settings.EPITRACE_HOTSPOT_ALPHA = 0.001
    html = page()
    assert table_rows(html, "clusters") == []
    assert 'id="no-suspected"' in html
    assert table_rows(html, "clusters-not-significant") == ["1", "2", "3"]
    assert map_clusters(html) == {1: False, 2: False, 3: False}
