from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "epitrace.hub.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from epitrace.hub.accounts import signals  # noqa: F401  (login events to the audit chain)
