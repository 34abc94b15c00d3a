from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ChainsConfig(AppConfig):
    name = "epitrace.hub.chains"
    label = "chains"
    verbose_name = "Links between cases and chains"

    def ready(self) -> None:
        # Models are importable only now. A stored (or destroyed) analysis changes what
        # links can be proposed: the proposals are recomputed by the job runner.
        from epitrace.hub.chains.models import LinkRefresh
        from epitrace.hub.chains.refresh import analysis_changed, refresh_work
        from epitrace.hub.exchange.jobs import register_job
        from epitrace.hub.exchange.models import AnalysisResult

        register_job(LinkRefresh, refresh_work)
        post_save.connect(analysis_changed, sender=AnalysisResult, dispatch_uid="chains-saved")
        post_delete.connect(analysis_changed, sender=AnalysisResult, dispatch_uid="chains-gone")
