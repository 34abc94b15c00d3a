"""The counts of purged cases follow their regions (accounts 0005): the former
simulated city's romanised region codes become their 시군구 codes, so the dashboard
adds them to the same region's live cases. Other codes are kept as they were."""

from django.db import migrations

from epitrace.hub.accounts.regions import former_district_code


def region_codes_are_districts(apps, schema_editor) -> None:
    PurgedCaseCount = apps.get_model("retention", "PurgedCaseCount")
    codes = PurgedCaseCount.objects.values_list("region_code", flat=True).distinct()
    for code in list(codes):
        target = former_district_code(code)
        if target is not None:
            PurgedCaseCount.objects.filter(region_code=code).update(region_code=target)


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0002_purge_cutoff"),
        ("accounts", "0005_regions_are_districts"),
    ]

    operations = [
        migrations.RunPython(region_codes_are_districts, migrations.RunPython.noop),
    ]
