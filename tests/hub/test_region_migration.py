"""Migration accounts 0005 (and retention 0003): the former romanised region codes
become their 시군구, keeping every case, account, grant and count; a code that names
no district is kept and reported. Run as Django runs migrations: back to the state
before, rows written there, then forward."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0003_lockout_streak"),
    ("cases", "0002_case_note"),
    ("retention", "0002_purge_cutoff"),
]
# The former demo's regions, as its provisioning spelled them (and one spelled otherwise).
FORMER = {
    "buk-gu": "27230",
    "Suseong-Gu": "27260",
    "dalseong_gun": "27710",
    "jung-gu": "27110",
}


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to ``targets``; the apps (historical models) of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def old_case(apps: Any, region: Any, case_id: str) -> Any:
    day = dt.date(2020, 2, 20)
    return apps.get_model("cases", "Case").objects.create(
        case_id=case_id,
        region=region,
        specimen_date=day,
        confirmation_date=day,
        isolation_date=day,
        registered_by="setup",
        **{f"{name}_enc": b"" for name in ("name", "birth_date", "phones", "national_id")},
        **{f"{name}_enc": b"" for name in ("address", "person_ref")},
    )


@pytest.fixture
def before(transactional_db: None) -> Any:
    apps = migrate(BEFORE)
    yield apps
    migrate(latest())  # the next test starts from the latest state


def test_former_codes_become_their_sigungu(before: Any, capsys: Any) -> None:
    Region = before.get_model("accounts", "Region")
    old = {code: Region.objects.create(code=code, name=code.title()) for code in FORMER}
    twice = Region.objects.create(code="BUK_GU", name="Buk-gu")  # the same district again
    kept = Region.objects.create(code="atlantis", name="Atlantis")
    cases = {code: old_case(before, old[code], f"C{i}") for i, code in enumerate(old)}
    twice_case = old_case(before, twice, "C8")
    kept_case = old_case(before, kept, "C9")
    User = before.get_model("auth", "User")
    user = User.objects.create(username="lee")
    at = dt.datetime(2020, 2, 1, tzinfo=dt.UTC)
    before.get_model("accounts", "RoleAssignment").objects.create(
        user=user, role="regional_investigator", region=twice, granted_at=at, granted_by="a"
    )
    before.get_model("accounts", "RoleGrant").objects.create(
        user=user, role="regional_investigator", region=old["jung-gu"], reason="moved",
        requested_by="a", requested_at=at,
    )  # fmt: skip
    counts = before.get_model("retention", "PurgedCaseCount")
    counts.objects.create(confirmation_date=at.date(), region_code="Dalseong-gun", cases=3)
    counts.objects.create(confirmation_date=at.date(), region_code="atlantis", cases=1)

    migrate(latest())
    from epitrace.hub.accounts.models import Region as Now
    from epitrace.hub.accounts.models import RoleAssignment, RoleGrant
    from epitrace.hub.cases.models import Case
    from epitrace.hub.retention.models import PurgedCaseCount

    for code, target in FORMER.items():
        region = Now.objects.get(pk=old[code].pk)  # the same row: every reference holds
        assert (region.code, region.former_code, region.level) == (target, code, "sigungu")
        assert region.sido.code == "27" and region.name.startswith("대구광역시 ")
        assert Case.objects.get(pk=cases[code].pk).region == region
    bukgu = Now.objects.get(code="27230")
    assert bukgu.name == "대구광역시 북구"
    # The second spelling of 북구 is merged into the first: its case and role follow.
    assert not Now.objects.filter(pk=twice.pk).exists()
    assert Case.objects.get(pk=twice_case.pk).region == bukgu
    assert RoleAssignment.objects.get(user__username="lee").region == bukgu
    assert RoleGrant.objects.get(user__username="lee").region.code == "27110"
    # A code that names no district is kept as it was, and reported.
    atlantis = Now.objects.get(pk=kept.pk)
    assert (atlantis.code, atlantis.name, atlantis.level) == ("atlantis", "Atlantis", "other")
    assert Case.objects.get(pk=kept_case.pk).region == atlantis
    assert "kept as they were (no district for their code): atlantis" in capsys.readouterr().out
    # Every 시도 and 시군구 is a region; the purged counts follow theirs.
    assert Now.objects.filter(level="sido").count() == 17
    assert Now.objects.get(code="26110").sido == Now.objects.get(code="26")
    assert sorted(PurgedCaseCount.objects.values_list("region_code", flat=True)) == [
        "27710",
        "atlantis",
    ]


def test_backwards_restores_the_former_codes(before: Any) -> None:
    Region = before.get_model("accounts", "Region")
    bukgu = Region.objects.create(code="buk-gu", name="Buk-gu")
    migrate(latest())
    apps = migrate(BEFORE)
    Region = apps.get_model("accounts", "Region")
    assert list(Region.objects.values_list("pk", "code")) == [(bukgu.pk, "buk-gu")]
