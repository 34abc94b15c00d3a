"""A data request keeps the provisions of law it is made under (issue #19: the police
approver's decision page shows them); a notification keeps its message's fields, so it
is shown in the reader's language."""

from __future__ import annotations

from django.db import migrations, models

LOCATION_KINDS = {"telecom", "transit", "checkins", "contacts"}


def legal_basis_of(kinds: list[str]) -> list[str]:
    # As exchange.workflow.legal_basis at the time of this migration.
    basis = []
    if set(kinds) - {"telecom", "contacts"}:
        basis.append("IDCPA-76-2-1")
    if {"telecom", "contacts"} & set(kinds):
        basis.append("IDCPA-76-2-2")
    return basis


def fill_legal_basis(apps, schema_editor) -> None:
    DataRequest = apps.get_model("exchange", "DataRequest")
    for request in DataRequest.objects.all().only("id", "kinds"):
        request.legal_basis = legal_basis_of(request.kinds)
        request.save(update_fields=["legal_basis"])


class Migration(migrations.Migration):
    dependencies = [("exchange", "0003_agencyprofile_tables")]

    operations = [
        migrations.AddField(
            model_name="datarequest",
            name="legal_basis",
            field=models.JSONField(
                default=list, help_text="provisions of law the request is made under"
            ),
        ),
        migrations.RunPython(fill_legal_basis, migrations.RunPython.noop),
        migrations.AddField(
            model_name="notification",
            name="params",
            field=models.JSONField(
                blank=True, default=dict, help_text="the fields of a catalogue message"
            ),
        ),
    ]
