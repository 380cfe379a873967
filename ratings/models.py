import uuid
from functools import cached_property

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from battles.models import LLM, Generation, LLMVersion
from ratings.snapshots import SnapshotPayload


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


class OnlineRatingWatermark(models.Model):
    """How far the online ratings have got: every vote up to ``last_vote_id`` is applied.

    One row (pk 1). It moves in the same transaction as the ``OnlineRating`` rows it accounts
    for, so a vote is applied exactly once whatever worker dies or retries.
    """

    last_vote_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"online ratings applied up to vote {self.last_vote_id}"


class RatingSnapshot(models.Model):
    """A computed Bradley–Terry board, reproducible from its settings and vote set."""

    scope = models.CharField(max_length=200, db_index=True, help_text="Which votes: 'default' or a filter key.")
    settings = models.JSONField(help_text="Engine settings used for the fit.")
    vote_count = models.PositiveIntegerField()
    vote_hash = models.CharField(max_length=64, help_text="SHA-256 over the aggregated vote counts.")
    payload = models.JSONField(help_text="The board as the engine returned it.")
    duration_ms = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Which votes the fit saw (``ratings.counts.VoteMark``): every vote up to this id but those in
    # ``vote_gaps``, as of the counts' ``epoch``. A page compares them with the votes now.
    through_vote_id = models.BigIntegerField(null=True, blank=True)
    vote_gaps = models.JSONField(default=list, blank=True, help_text="[[first id, last id, since], …] not yet seen.")
    counts_epoch = models.PositiveIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="The board filter's query parameters.")
    refit_wanted = models.BooleanField(
        default=False, help_text="A page found this snapshot behind the votes; the periodic check refits it."
    )

    class Meta:
        get_latest_by = "computed_at"
        indexes = [models.Index(fields=["scope", "-computed_at"], name="snapshot_newest_of_scope")]

    def __str__(self):
        return f"{self.scope} @ {self.computed_at:%Y-%m-%d %H:%M} ({self.vote_count} votes)"

    @cached_property
    def data(self) -> SnapshotPayload:
        """The payload, read (``ratings.snapshots``): every reader goes through this."""
        return SnapshotPayload.from_json(self.payload)


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


class GenerationStyle(models.Model):
    """Style features of one answer, the covariates of the style-controlled board.

    Owned by ratings (battles never imports ratings, and one ``style_counts`` serves both
    the engine and the app): filled from the answer's text by ``ratings.style_features``
    when the answer is stored, or at the first style-controlled fit that finds it missing. An
    answer's text never changes once it is done, so a row never goes stale.
    """

    generation = models.OneToOneField(Generation, on_delete=models.CASCADE, primary_key=True, related_name="style")
    length = models.PositiveIntegerField(help_text="Characters.")
    headers = models.PositiveIntegerField(help_text="Markdown headers.")
    bold = models.PositiveIntegerField(help_text="Bold spans.")
    list_items = models.PositiveIntegerField(help_text="Markdown list items.")

    def __str__(self):
        return f"style of generation {self.generation_id}"


class Benchmark(models.Model):
    """A public or internal benchmark whose scores are compared with arena ranks."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    higher_is_better = models.BooleanField(default=True, help_text="Off for error rates, latencies and the like.")
    weight = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)],
        help_text="Weight in the composite (z-scores averaged with these weights); 0 leaves it out.",
    )
    source = models.CharField(max_length=500, blank=True, help_text="Where the scores come from (URL or note).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ModelAlias(models.Model):
    """A model name as benchmark files spell it, mapped to an LLM.

    Exact and case-insensitive matches of an LLM's own name resolve without an alias.
    """

    name = models.CharField(
        max_length=200, help_text="The name as it appears in benchmark files (unique, ignoring case)."
    )
    llm = models.ForeignKey(LLM, on_delete=models.CASCADE, related_name="benchmark_aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "model alias"
        verbose_name_plural = "model aliases"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="modelalias_unique_name_ci"),
        ]

    def __str__(self):
        return f"{self.name} → {self.llm}"


class BenchmarkScore(models.Model):
    """One model's score on one benchmark, as imported; ``llm`` is None until the name resolves."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="scores")
    model_name = models.CharField(max_length=200, help_text="The model's name as imported.")
    llm = models.ForeignKey(LLM, on_delete=models.SET_NULL, null=True, blank=True, related_name="benchmark_scores")
    score = models.FloatField()
    source = models.CharField(max_length=500, blank=True)
    date = models.DateField(null=True, blank=True, help_text="When the score was measured or published.")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["benchmark__name", "model_name"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "model_name"], name="benchmarkscore_unique_model"),
        ]

    def __str__(self):
        return f"{self.model_name} on {self.benchmark}: {self.score:g}"


class ApiToken(models.Model):
    """A bearer token for the read-only API. Only a SHA-256 of the token is stored."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, e.g. 'weekly report'.")
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The token's first characters, to tell tokens apart."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.owner})"

    @property
    def is_active(self):
        return self.revoked_at is None


class CountsState(models.Model):
    """The watermark of the aggregated vote counts (one row, pk 1).

    Every vote with an id up to ``through_vote_id`` is in the counts, except the ids in
    ``gaps``: ids not visible when the counts were folded (a vote still being committed, or
    one rolled back), looked for again at every fold until ``ARENA_COUNTS_GAP_SECONDS``
    passed. ``epoch`` moves when the counts change other than by adding new votes (a rebuild
    after imports, exclusions or repaired drift): every snapshot of an older epoch is stale.
    """

    through_vote_id = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=list, blank=True, help_text="[[first id, last id, since (Unix time)], …]")
    epoch = models.PositiveIntegerField(default=0)
    # New with each state row: what a process keeps of the votes of another (a reset, another database) is not
    # this one's (``ratings.vote_archive``).
    identity = models.UUIDField(default=uuid.uuid4, editable=False)
    time_zone = models.CharField(max_length=64, blank=True, help_text="The zone the days are counted in.")
    folded_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"counts through vote {self.through_vote_id} (epoch {self.epoch})"


class VoteTotal(models.Model):
    """Votes per (pair, outcome) and every filter dimension of the boards but days and voter group."""

    version_a = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=10)
    insider = models.BooleanField()
    flagged = models.BooleanField()
    live = models.BooleanField()
    category = models.CharField(max_length=50, blank=True, help_text="The prompt's; empty without a battle.")
    pool = models.CharField(max_length=36, blank=True, help_text="The prompt pool's code; empty without one.")
    n = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version_a", "version_b", "outcome", "insider", "flagged", "live", "category", "pool"],
                name="votetotal_unique_cell",
            )
        ]

    def __str__(self):
        return f"{self.version_a_id}-{self.version_b_id} {self.outcome}: {self.n}"


class DailyVoteCount(models.Model):
    """``VoteTotal`` per day (the server's time zone), for boards with a date range."""

    day = models.DateField()
    version_a = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=10)
    insider = models.BooleanField()
    flagged = models.BooleanField()
    live = models.BooleanField()
    category = models.CharField(max_length=50, blank=True)
    pool = models.CharField(max_length=36, blank=True)
    n = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "version_a", "version_b", "outcome", "insider", "flagged", "live", "category", "pool"],
                name="dailyvotecount_unique_cell",
            )
        ]

    def __str__(self):
        return f"{self.day} {self.version_a_id}-{self.version_b_id} {self.outcome}: {self.n}"


class DecisionObjective(models.Model):
    """ "Find the best model within ε points" for one category, or the whole arena (category "").

    Set by an eval lead on the decision page. The arena-wide objective steers the pairing policy
    (``battles.core.pairing``, LUCB among the models that can still be best); every objective's
    status ("decided", or about how many more votes) is shown on the decision page.
    """

    category = models.CharField(
        max_length=50, unique=True, blank=True, help_text="A prompt category; empty for the whole arena."
    )
    epsilon = models.FloatField(
        default=25.0,
        validators=[MinValueValidator(1.0), MaxValueValidator(400.0)],
        help_text="The best model within this many rating points.",
    )
    confidence = models.FloatField(
        default=0.95, validators=[MinValueValidator(0.5), MaxValueValidator(0.999)], help_text="e.g. 0.95"
    )
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category"]

    def __str__(self):
        return f"best within {self.epsilon:g} points: {self.category or 'whole arena'}"
