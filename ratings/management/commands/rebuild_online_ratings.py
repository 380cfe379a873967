"""python manage.py rebuild_online_ratings"""

from django.core.management.base import BaseCommand

from ratings.online import rebuild_online_ratings


class Command(BaseCommand):
    help = (
        "Replay Elo and TrueSkill over every counted vote in commit order, replacing the online ratings "
        "(after loading a history of votes; imported votes leave them alone)."
    )

    def handle(self, *args, **options):
        rated = rebuild_online_ratings()
        self.stdout.write(f"Online ratings rebuilt for {rated} LLM version(s).")
