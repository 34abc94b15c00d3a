"""Seal the chain head with the audit key (issue #17, finding 1)."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models


def seal_existing_head(apps, schema_editor):
    # The same message as audit.chain.head_seal_of, written out: migrations do not import
    # code that may change later.
    ChainHead = apps.get_model("audit", "ChainHead")
    for head in ChainHead.objects.all():
        message = f"head\n{head.seq}\n{head.seal}".encode()
        head.head_seal = hmac.new(settings.AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()
        head.save(update_fields=["head_seal"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_chain_checkpoint"),
    ]

    operations = [
        migrations.AddField(
            model_name="chainhead",
            name="head_seal",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.RunPython(seal_existing_head, migrations.RunPython.noop),
    ]
