from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "ratings"
    verbose_name = "Ratings"

    def ready(self):
        # Imported here, once the app registry is ready: receivers reach the models.
        from celery.signals import worker_init

        from arena.metrics import register_source
        from battles.signals import answers_stored, estimates_wanted, vote_flags_changed, vote_recorded, votes_imported
        from ratings import metrics, receivers
        from ratings.signals import refit_wanted, votes_reflagged

        vote_recorded.connect(receivers.on_vote_recorded, dispatch_uid="ratings.on_vote_recorded")
        votes_imported.connect(receivers.on_votes_imported, dispatch_uid="ratings.on_votes_imported")
        votes_reflagged.connect(receivers.on_votes_reflagged, dispatch_uid="ratings.on_votes_reflagged")
        vote_flags_changed.connect(receivers.on_votes_reflagged, dispatch_uid="ratings.on_vote_flags_changed")
        refit_wanted.connect(receivers.on_refit_wanted, dispatch_uid="ratings.on_refit_wanted")
        answers_stored.connect(receivers.on_answers_stored, dispatch_uid="ratings.on_answers_stored")
        estimates_wanted.connect(receivers.on_estimates_wanted, dispatch_uid="ratings.on_estimates_wanted")
        register_source("ratings", metrics.board_gauges)
        worker_init.connect(receivers.on_worker_init, dispatch_uid="ratings.on_worker_init")
