from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "ratings"
    verbose_name = "Ratings"

    def ready(self):
        from battles.signals import answers_stored, estimates_wanted, vote_recorded, votes_imported
        from ratings import receivers

        vote_recorded.connect(receivers.on_vote_recorded, dispatch_uid="ratings.on_vote_recorded")
        votes_imported.connect(receivers.on_votes_imported, dispatch_uid="ratings.on_votes_imported")
        answers_stored.connect(receivers.on_answers_stored, dispatch_uid="ratings.on_answers_stored")
        estimates_wanted.connect(receivers.on_estimates_wanted, dispatch_uid="ratings.on_estimates_wanted")
