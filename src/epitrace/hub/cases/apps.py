from __future__ import annotations

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "epitrace.hub.cases"
    label = "cases"
    verbose_name = "Confirmed cases"
