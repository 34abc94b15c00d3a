from __future__ import annotations

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "epitrace.hub.retention"
    label = "retention"
    verbose_name = "Retention and destruction"

    def ready(self) -> None:
        from epitrace.hub.retention.targets import register_builtin

        register_builtin()
