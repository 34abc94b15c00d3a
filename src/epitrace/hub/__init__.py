"""The hub: the Django web system (accounts, cases, requests, approvals, audit, retention).

Each concern is an app of its own; this package holds the project settings.
"""

from __future__ import annotations

import os


def setup(settings_module: str = "epitrace.hub.settings") -> None:
    """Configure Django for code that runs outside a web request (the CLI, jobs)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    django.setup()
