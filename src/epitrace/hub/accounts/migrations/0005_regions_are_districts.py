"""Regions become Korea's districts: every 시도 and 시군구 is a region, and the former
simulated city's romanised codes ("buk-gu", any case or spelling) become their 시군구
codes ("27230"), keeping their rows, so every case, account, grant and audit entry
that points at a region still does. A code that names no district is kept as it was
(level OTHER) and reported; nothing is deleted but a second spelling of a district
already mapped, whose cases and roles move to the first."""

import sys

from django.db import migrations

from epitrace.geography import district, every_district
from epitrace.hub.accounts.regions import former_district_code

SIDO, SIGUNGU, OTHER = "sido", "sigungu", "other"
# What points at a region.
POINTING = (("cases", "Case"), ("accounts", "RoleAssignment"), ("accounts", "RoleGrant"))


def _districts(Region) -> None:
    """Every 시도 and 시군구, under their official names."""
    sido = {}
    for found in every_district("sido"):
        sido[found.code], _ = Region.objects.update_or_create(
            code=found.code, defaults={"name": found.korean, "level": SIDO, "sido": None}
        )
    for found in every_district("sigungu"):
        Region.objects.update_or_create(
            code=found.code,
            defaults={"name": found.korean, "level": SIGUNGU, "sido": sido[found.code[:2]]},
        )


def _merge(apps, region, into) -> None:
    """Move what points at ``region`` to ``into`` (the same district, spelled twice)."""
    for app, model in POINTING:
        apps.get_model(app, model).objects.filter(region=region).update(region=into)
    region.delete()


def regions_are_districts(apps, schema_editor) -> None:
    Region = apps.get_model("accounts", "Region")
    kept = []
    for region in Region.objects.order_by("pk"):
        target = former_district_code(region.code)
        if target is None:
            if district(region.code) is None:
                kept.append(region.code)
            continue
        same = Region.objects.filter(code=target).first()
        if same is not None:
            _merge(apps, region, same)
            continue
        region.former_code, region.code = region.code, target
        region.save(update_fields=["code", "former_code"])
    _districts(Region)
    if kept:
        sys.stdout.write(
            f"\n  Regions kept as they were (no district for their code): {', '.join(kept)}\n"
        )


def former_codes_back(apps, schema_editor) -> None:
    """Undo: the mapped regions take their former codes again, and the districts that
    nothing points at go."""
    Region = apps.get_model("accounts", "Region")
    for region in Region.objects.exclude(former_code=""):
        region.code = region.former_code
        region.save(update_fields=["code"])
    Region.objects.update(sido=None)
    unused = Region.objects.filter(former_code="", level__in=[SIDO, SIGUNGU])
    for app, model in POINTING:
        used = apps.get_model(app, model).objects.values("region")
        unused = unused.exclude(pk__in=used)
    unused.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_region_levels"),
        ("cases", "0002_case_note"),
    ]

    operations = [
        migrations.RunPython(regions_are_districts, former_codes_back),
    ]
