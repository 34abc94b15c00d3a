from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete


class ExchangeConfig(AppConfig):
    name = "epitrace.hub.exchange"
    label = "exchange"
    verbose_name = "Data requests and answers"

    def ready(self) -> None:
        # Models are importable only now. A cached hotspot scan holds where cases stayed:
        # it goes with any analysis, case or case key the retention purge destroys.
        from epitrace.hub.cases.models import Case, CaseKey
        from epitrace.hub.exchange.hotspots import forget_scans
        from epitrace.hub.exchange.models import AnalysisResult

        for model in (AnalysisResult, Case, CaseKey):
            post_delete.connect(forget_scans, sender=model, dispatch_uid=f"hotspots-{model}")
