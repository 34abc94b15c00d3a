"""Regions gain their level (시도, 시군구, other), the 시도 a 시군구 lies in, and the
code they had before (filled by 0005). Schema only: on PostgreSQL a data change
and these columns' constraints may not share one transaction."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_lockout_streak"),
    ]

    operations = [
        migrations.AddField(
            model_name="region",
            name="level",
            field=models.CharField(
                choices=[("sido", "시도"), ("sigungu", "시군구"), ("other", "other")],
                default="other",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="region",
            name="sido",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sigungu",
                to="accounts.region",
            ),
        ),
        migrations.AddField(
            model_name="region",
            name="former_code",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
