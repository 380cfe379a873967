import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LLM(models.Model):
    """A model under test, as configured by an admin.

    The fields that change what the model answers (model id, sampling
    settings, system prompt) live on ``LLMVersion``; everything that points
    at answers points at the exact version.
    """

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True, help_text="Display name, shown only after a vote.")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="For OpenAI-compatible servers include /v1, e.g. http://vllm:8000/v1.",
    )
    api_key_env = models.CharField(
        "API key variable",
        max_length=100,
        blank=True,
        help_text="Name of the environment variable that holds the API key (never the key itself).",
    )
    api_key_encrypted = models.TextField(
        blank=True,
        editable=False,
        help_text="The API key as a Fernet token (see battles.catalog.keys); never the key in clear.",
    )
    api_key_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    price_input_per_mtok = models.DecimalField(
        "input price / 1M tokens", max_digits=12, decimal_places=4, default=Decimal("0")
    )
    price_output_per_mtok = models.DecimalField(
        "output price / 1M tokens", max_digits=12, decimal_places=4, default=Decimal("0")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    imported = models.BooleanField(default=False, help_text="Created by an import; has no endpoint.")
    # Limits shared by every worker (see battles.generation.limits); 0 means unlimited.
    max_concurrency = models.PositiveIntegerField(
        default=50, help_text="Calls in flight at once, across all workers (0 = unlimited)."
    )
    requests_per_minute = models.PositiveIntegerField(default=0, help_text="0 = unlimited.")
    tokens_per_minute = models.PositiveIntegerField(
        default=0,
        help_text="Input plus output tokens per minute (0 = unlimited); estimated before a call, corrected after.",
    )
    monthly_spend_cap = models.DecimalField(
        "monthly spend cap",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Optional. Once this calendar month's recorded cost of its answers reaches this amount, no new "
        "call is made (generation jobs and live battles) until the next month or a higher cap. Empty = no cap.",
    )
    breaker_opened_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when repeated failures stopped all calls to this LLM; an admin resets it.",
    )
    breaker_reason = models.TextField(blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Failed generations since the last success (see battles.generation.breaker).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LLM"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(api_key_env="") | Q(api_key_encrypted=""), name="llm_one_api_key_source"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def key_source(self) -> str:
        """Where the API key comes from: "stored", "env" or "" (none); never the key."""
        if self.api_key_encrypted:
            return "stored"
        return "env" if self.api_key_env else ""

    def current_version(self):
        return self.versions.order_by("-number").first()


class LLMVersion(models.Model):
    """One immutable configuration of an LLM; answers and votes point here."""

    llm = models.ForeignKey(LLM, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    model_id = models.CharField(max_length=200, help_text="The provider's model name, e.g. gpt-4o-mini.")
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(default=1024)
    system_prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["llm", "number"], name="llmversion_unique_number"),
        ]
        ordering = ["llm__name", "number"]

    def __str__(self):
        return self.label

    @property
    def label(self):
        """The name on boards: the LLM's name, with the version after the first."""
        return self.llm.name if self.number == 1 else f"{self.llm.name} (v{self.number})"


class PromptPool(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Prompt(models.Model):
    # A prompt without a pool was typed by a voter for a live battle; it is never served to others.
    pool = models.ForeignKey(PromptPool, on_delete=models.PROTECT, related_name="prompts", null=True, blank=True)
    text = models.TextField()
    category = models.CharField(max_length=50, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    text_hash = models.CharField(max_length=64, help_text="SHA-256 of the normalised text.")
    hidden = models.BooleanField(default=False, help_text="Hidden prompts are not served.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "text_hash"], name="prompt_unique_text_per_pool"),
        ]

    def __str__(self):
        return self.text[:60]


class Generation(models.Model):
    """One answer of one LLM version to one prompt.

    Status moves only by compare-and-set (see ``battles.generation``), and
    the claim token makes a redelivered task take over without a second row
    or a second stored answer.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="generations")
    llm_version = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="generations")
    sample = models.PositiveSmallIntegerField(default=0)
    context = models.JSONField(
        default=list,
        blank=True,
        help_text="Earlier turns of a live conversation, as chat messages sent before the prompt.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    text = models.TextField(blank=True)
    # The answer's HTML, rendered when it was stored, and the key of what made it
    # (battles.core.rendering.html_key): pages show it only while the key matches the text and renderer.
    html = models.TextField(blank=True, default="", editable=False)
    html_key = models.CharField(max_length=32, blank=True, default="", editable=False)
    error = models.TextField(blank=True, help_text="Why the last attempt failed (never contains a key).")
    attempts = models.PositiveIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    imported = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(
        default=timezone.now,
        help_text="When a task is expected to pick this generation up; the reconciler re-queues it long past that.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "llm_version", "sample"], name="generation_unique_per_prompt_version"
            ),
        ]
        indexes = [
            models.Index(fields=["prompt", "status"]),
            # The month's spend of an LLM (battles.catalog.spend) sums its versions' recent costs.
            models.Index(fields=["llm_version", "finished_at"], name="generation_version_finished"),
            # Serving: one version's finished answers, by prompt (the prompts two versions share).
            models.Index(fields=["llm_version", "status", "prompt"], name="generation_version_answers"),
            # The answers still to render (battles.catalog.answer_html), found without reading the others.
            models.Index(fields=["id"], condition=models.Q(status="done", html_key=""), name="generation_without_html"),
        ]

    def __str__(self):
        return f"{self.llm_version} on prompt {self.prompt_id} ({self.status})"


class GenerationJob(models.Model):
    """Answers for a pool × a set of LLM versions × samples, started by an admin.

    The job owns no generations: its scope is the pool's visible prompts ×
    ``versions`` × samples below ``samples``, so progress is always read from
    the generations themselves (see ``battles.generation.jobs``).
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pool = models.ForeignKey(PromptPool, on_delete=models.PROTECT, related_name="jobs")
    versions = models.ManyToManyField(LLMVersion, related_name="jobs")
    samples = models.PositiveSmallIntegerField(default=1, help_text="Answers per prompt and LLM version.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    queued = models.PositiveIntegerField(default=0, help_text="Generations queued when the job started.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.pool} × {self.versions.count()} version(s), {self.created_at:%Y-%m-%d %H:%M}"


class Battle(models.Model):
    """Two answers served to one voter. Model A is always the left side.

    Which generation became A is drawn from a cryptographic RNG when the
    battle is created; ``code`` is the only identifier the browser sees.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        VOTED = "voted", "Voted"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"  # a live side could not answer; never votable

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="battles")
    generation_a = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    generation_b = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    # Denormalised from the generations so that boards aggregate without joins.
    version_a = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="battles")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    live = models.BooleanField(default=False)
    identity_leak = models.BooleanField(
        default=False, help_text="An answer names a model or vendor; its vote is excluded by default."
    )
    leaked_terms = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(generation_a=models.F("generation_b")), name="battle_two_distinct_answers"
            ),
        ]
        indexes = [
            models.Index(fields=["voter", "status"]),
            # A voter's last battles (the exposure cap's window), newest first.
            models.Index(fields=["voter", "-created_at"], name="battle_voter_recent"),
            # The prompts a voter has battled on (never served to them again), read by an index-only scan.
            models.Index(fields=["voter", "prompt"], name="battle_voter_prompts"),
        ]

    def __str__(self):
        return str(self.code)


class BattleTurn(models.Model):
    """One exchange of a live battle: the voter's message and both sides' answers."""

    battle = models.ForeignKey(Battle, on_delete=models.PROTECT, related_name="turns")
    number = models.PositiveSmallIntegerField()
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    generation_a = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    generation_b = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["battle", "number"], name="battleturn_unique_number"),
        ]
        ordering = ["battle", "number"]

    def __str__(self):
        return f"{self.battle_id} turn {self.number}"


# Vote flags an admin sets (battles.voting.exclusions): excluded by hand; restored by hand (then kept
# counted, also by the outlier check).
ADMIN_EXCLUDED_FLAG = "excluded_by_admin"
ADMIN_RESTORED_FLAG = "restored_by_admin"

# The reasons a voter may tick for either side; votes store these names.
REASON_TAGS = ("correct", "follows_instructions", "clear", "concise", "tone", "formatting", "safe", "hallucinated")


class Vote(models.Model):
    class Outcome(models.TextChoices):
        A = "a", "A is better"
        B = "b", "B is better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both are bad"

    # Imported historical votes have no battle and no voter.
    battle = models.OneToOneField(Battle, on_delete=models.PROTECT, related_name="vote", null=True, blank=True)
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes", null=True, blank=True
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # Denormalised from the battle for aggregation and export.
    version_a = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(LLMVersion, on_delete=models.PROTECT, related_name="+")
    time_to_vote_ms = models.PositiveIntegerField(null=True, blank=True)
    reasons_a = models.JSONField(default=list, blank=True)
    reasons_b = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    insider = models.BooleanField(default=False, help_text="Cast by an eval lead or admin.")
    live = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False, help_text="Excluded from the default board (see flags).")
    flags = models.JSONField(default=list, blank=True, help_text="Why the vote is flagged, e.g. identity_leak.")
    imported = models.BooleanField(default=False)
    # A default rather than auto_now_add: imported historical votes keep their own time.
    # Indexed by ``vote_in_time_order`` below (its first column), not on its own.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["voter", "created_at"]),
            # Board refits replay a filter's votes in time order (Elo, TrueSkill) and read them for style
            # fits: on Postgres this index holds every column they read or filter on, so the read is an
            # index-only scan (335k votes: 280 → 86 ms of Postgres, which runs at normal priority while the
            # refit itself runs at the idle CPU class). Other backends ignore INCLUDE.
            models.Index(
                fields=["created_at", "id"],
                include=["version_a", "version_b", "outcome", "flagged", "insider", "live", "battle"],
                name="vote_in_time_order",
            ),
        ]

    def __str__(self):
        return f"{self.battle_id}: {self.outcome}"


class VoterTally(models.Model):
    """A voter's vote counts, kept as each vote is stored (``battles.voting.tallies``).

    The progress strip and the daily cap read them on every page and every vote: counted from the
    votes, they cost Postgres time in proportion to the voter's history (~1 ms a page at 3,000 votes).
    ``today`` counts the votes of ``day``, the site's date of the voter's last vote; a periodic check
    compares the tallies with the votes and repairs any drift.
    """

    voter = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="vote_tally"
    )
    total = models.PositiveIntegerField(default=0)
    day = models.DateField()
    today = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.voter_id}: {self.total} votes, {self.today} on {self.day}"
