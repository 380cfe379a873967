from django.apps import AppConfig


class BattlesConfig(AppConfig):
    name = "battles"
    verbose_name = "Battles"

    def ready(self):
        # Wiring only: the system checks register themselves on import, and the listeners of the
        # generation pipeline's signals connect here, so that the pipeline never imports them.
        from arena.metrics import register_source
        from battles import metrics, signals
        from battles.catalog import checks  # noqa: F401  (registers the system checks)
        from battles.realtime import job_pushes, live_pushes
        from battles.voting import live

        signals.generation_finished.connect(live.on_generation_finished, dispatch_uid="battles.voting.live.generation")
        signals.generation_finished.connect(
            job_pushes.on_generation_finished, dispatch_uid="battles.generation.jobs.generation"
        )
        signals.job_changed.connect(job_pushes.on_job_changed, dispatch_uid="battles.generation.jobs.changed")
        signals.breaker_reset.connect(job_pushes.on_breaker_reset, dispatch_uid="battles.generation.jobs.breaker")
        signals.live_battle_changed.connect(
            live_pushes.on_live_battle_changed, dispatch_uid="battles.voting.live.changed"
        )
        register_source("battles", metrics.arena_gauges)
