from django.conf import settings
from django.db import models

from battles.models import LLMVersion


class OnlineRating(models.Model):
    """Elo and TrueSkill per LLM version, updated once per counted vote, in vote order."""

    llm_version = models.OneToOneField(LLMVersion, on_delete=models.PROTECT, related_name="online_rating")
    elo = models.FloatField(default=1000.0)
    trueskill_mu = models.FloatField(default=25.0)
    trueskill_sigma = models.FloatField(default=25.0 / 3)
    votes = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.llm_version}: Elo {self.elo:.0f}"


class RatingSnapshot(models.Model):
    """A computed Bradley–Terry board, reproducible from its settings and vote set."""

    scope = models.CharField(max_length=200, db_index=True, help_text="Which votes: 'default' or a filter key.")
    settings = models.JSONField(help_text="Engine settings used for the fit.")
    vote_count = models.PositiveIntegerField()
    vote_hash = models.CharField(max_length=64, help_text="SHA-256 over the aggregated vote counts.")
    payload = models.JSONField(help_text="The board as the engine returned it.")
    duration_ms = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        get_latest_by = "computed_at"

    def __str__(self):
        return f"{self.scope} @ {self.computed_at:%Y-%m-%d %H:%M} ({self.vote_count} votes)"


class VoterCheck(models.Model):
    """The latest outlier test of one voter (sequential Fisher test)."""

    voter = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voter_check")
    votes = models.PositiveIntegerField()
    statistic = models.FloatField()
    p_value = models.FloatField(help_text="Bonferroni-adjusted over the sequential looks.")
    flagged = models.BooleanField(default=False, db_index=True)
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.voter}: p={self.p_value:.3g}{' (flagged)' if self.flagged else ''}"
