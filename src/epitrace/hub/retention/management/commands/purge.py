"""``manage.py purge [--dry-run]``: the daily purge, for schedulers that run Django
management commands (the hub's own worker calls ``run_purge`` directly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epitrace.hub.retention.purge import run_purge


class Command(BaseCommand):
    help = "Destroy personal data whose retention has ended; print what was destroyed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List it, destroy nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_purge(dry_run=options["dry_run"])
        self.stdout.write(report.describe())
        if not report.ok:
            raise CommandError(f"{len(report.failed)} destructions failed; run the purge again")
