"""Arena settings: every knob comes from an environment variable.

With nothing set, Arena runs embedded: a SQLite file, Celery tasks executed
in-process, an in-memory channel layer and a local-memory cache. Setting
``DATABASE_URL`` and ``REDIS_URL`` switches to Postgres, a Celery worker on
Redis, channels-redis and a Redis cache. The env → config decisions live in
``arena.config`` as small pure functions with their own tests.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from arena import config, error_tracking, logs
from arena.config import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_probability,
    env_proxy_ssl_header,
    env_spread,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or config.embedded_secret_key(BASE_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SITE_NAME", "Arena")

DATABASE_URL = env_str("DATABASE_URL", "")
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED = not DATABASE_URL and not REDIS_URL

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "arena",
    "arena.audit",
    "battles",
    "ratings",
    "axes",
    "accounts",
    "csp",
]
# Demo tooling (fake provider, demo data, demo commands); a production deployment can leave it out.
if env_bool("ARENA_DEMO_TOOLS", True):
    INSTALLED_APPS.append("battles.demo")

MIDDLEWARE = [
    # First: a body over ARENA_MAX_REQUEST_BYTES is refused before anything reads it (arena.asgi does the same).
    "arena.body_limit.BodyLimitMiddleware",
    "arena.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "arena.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, so that PUT on a page answers 405, not "Page expired".
    "arena.methods.MethodsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The audit trail's actor: the request's user, read only when something is recorded.
    "arena.audit.context.AuditActorMiddleware",
    "arena.sessions.SessionIdleExpiry",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The lockout check runs before the password check, so a locked pair is refused whatever it sends.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # The admin role (a group, given by sign-in) carries the permissions of the arena's own admin pages.
    "arena.permissions.AdminRolePermissions",
]

ROOT_URLCONF = "arena.urls"
WSGI_APPLICATION = "arena.wsgi.application"
ASGI_APPLICATION = "arena.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "arena.context_processors.site",
            ],
        },
    },
]

# Embedded mode's database file (default db.sqlite3 in the checkout).
SQLITE_PATH = Path(env_str("SQLITE_PATH", "") or BASE_DIR / "db.sqlite3")
DATABASES = {"default": config.database(DATABASE_URL, SQLITE_PATH)}
if env_str("TEST_DATABASE_NAME", ""):
    # Lets concurrent test runs on one server use separate test databases.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "")}
# The voter's hot reads (arena.hot_reads) are prepared on each connection after this many runs, so
# Postgres plans them once; Django's other queries bind on the client and are never prepared. Set
# DB_PREPARED_STATEMENTS=0 behind a pooler that cannot keep them (PgBouncer before 1.21 in transaction mode).
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DB_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2
# Gunicorn's sync workers keep one connection per worker; daphne sets
# ARENA_DB_POOL=1 instead so that its per-request threads share a pool.
if env_bool("ARENA_DB_POOL", False) and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env_int("ARENA_DB_POOL_SIZE", 10),
    }

# Redis on the request path (cache, task publishing, websocket pushes): seconds per operation before
# giving up. A hung Redis must not hold a vote for seconds; missing a debounce or a push is caught up
# by the periodic checks. After a failure the cache is skipped for REDIS_RETRY_AFTER seconds.
ARENA_REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.2)
ARENA_REDIS_RETRY_AFTER = env_float("REDIS_RETRY_AFTER", 2.0)
# A websocket push is several round trips on a fresh connection: its whole send is bounded by this.
ARENA_PUSH_TIMEOUT = env_float("PUSH_TIMEOUT", 0.5)
CACHES = {"default": config.cache(REDIS_URL, timeout=ARENA_REDIS_TIMEOUT, retry_after=ARENA_REDIS_RETRY_AFTER)}
# Defaults to REDIS_URL; a separate Redis database keeps cache flushes away from websocket groups.
CHANNEL_LAYER_URL = env_str("CHANNEL_LAYER_URL", REDIS_URL)
CHANNEL_LAYERS = {"default": config.channel_layer(CHANNEL_LAYER_URL)}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker, tasks run on this many threads of the web process after the request that queued
# them (a generation job or a live battle does not hold the page); 0 runs them inside the request.
ARENA_EMBEDDED_WORKERS = env_int("EMBEDDED_WORKERS", 4 if EMBEDDED else 0)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "arena")
# Board refits on a queue of their own, served by a worker at the idle CPU class (arena.task_routes).
ARENA_BOARDS_QUEUE = env_str("CELERY_BOARDS_QUEUE", "")
CELERY_TASK_ROUTES = ("arena.task_routes.route",)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died is redelivered after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "reconcile-stuck-generations": {
        "task": "battles.generation.tasks.reconcile_generations",
        "schedule": env_float("RECONCILE_EVERY_SECONDS", 60.0),
    },
    "catch-up-boards": {
        "task": "ratings.tasks.catch_up_boards",
        "schedule": env_float("BOARD_CATCH_UP_EVERY_SECONDS", 60.0),
    },
    "apply-online-ratings": {
        "task": "ratings.tasks.apply_online_ratings",
        "schedule": env_float("ONLINE_RATINGS_CATCH_UP_EVERY_SECONDS", 60.0),
    },
    "check-vote-counts": {
        "task": "ratings.tasks.check_vote_counts",
        "schedule": env_float("COUNTS_CHECK_EVERY_SECONDS", 3600.0),
    },
    "check-voter-tallies": {
        "task": "battles.voting.tasks.check_voter_tallies",
        "schedule": env_float("TALLIES_CHECK_EVERY_SECONDS", 3600.0),
    },
    "render-answers-html": {
        "task": "battles.catalog.tasks.render_answers_html",
        "schedule": env_float("RENDER_ANSWERS_EVERY_SECONDS", 300.0),
    },
    "detect-outlier-voters": {
        "task": "ratings.tasks.detect_outlier_voters",
        "schedule": env_float("OUTLIER_CHECK_EVERY_SECONDS", 3600.0),
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
# Sign-in with the company's OpenID Connect provider (accounts.oidc): on when OIDC_ISSUER is set.
# Users are created at their first sign-in; their role comes from the groups claim at every sign-in.
OIDC_ISSUER = env_str("OIDC_ISSUER", "")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ADMIN_GROUPS = env_list("OIDC_ADMIN_GROUPS", [])
OIDC_EVAL_LEAD_GROUPS = env_list("OIDC_EVAL_LEAD_GROUPS", [])
# Empty: any email the provider vouches for; else only these domains (e.g. example.com).
OIDC_ALLOWED_EMAIL_DOMAINS = env_list("OIDC_ALLOWED_EMAIL_DOMAINS", [])
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
# Seconds for each call to the provider (discovery, keys, token exchange).
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0)
# 0 hides password sign-in; a superuser can still sign in with a password at /accounts/break-glass/.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cache forever, change on every edit) and precompressed copies; needs collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Re-read changed files while developing or running the demo (WhiteNoise caches sizes otherwise).
WHITENOISE_AUTOREFRESH = DEBUG or EMBEDDED

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Behind a proxy that terminates TLS, the header that says the client used HTTPS (set it only when
# the proxy always overwrites that header); Django then sees such requests as secure.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
# Served over HTTPS (SECURE_COOKIES=1): browsers are told to use nothing else for a year.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000 if SESSION_COOKIE_SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
# Served over HTTPS: a plain-http request is redirected to https, except the health check and the
# metrics, which the orchestrator and Prometheus reach directly on the container's port.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# HSTS preloading is for a whole registrable domain (example.com), which an internal app on its own
# host cannot submit; its warning in `check --deploy` has nothing to act on.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Content-Security-Policy (django-csp; see arena.config.content_security_policy): nothing inline.
# Forms may also go to CSP_FORM_ACTION_EXTRA (comma-separated origins) and, added per response by
# arena.security_headers, to the identity provider's origin (sign-out there is a redirect after a POST).
CONTENT_SECURITY_POLICY = config.content_security_policy(
    form_targets=[origin for origin in env_list("CSP_FORM_ACTION_EXTRA", []) if config.origin_of(origin)]
)
# Django's database sessions, read with a prepared statement (arena.sessions).
SESSION_ENGINE = "arena.sessions"
# A session ends after this long without a request (arena.sessions keeps an active one alive).
SESSION_COOKIE_AGE = int(env_float("SESSION_IDLE_HOURS", 12.0) * 3600)

# Login throttling (django-axes): this many failed sign-ins for one username from one client address
# within the window lock that pair for the window. Per pair, so that a stranger guessing passwords
# cannot lock an employee out from everywhere; a success clears the count; admins unlock early
# (Admin → Axes → Access attempts, or ``manage.py axes_reset_username NAME``).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "arena.views.locked_out"
# Behind a reverse proxy the client address is in X-Forwarded-For; trusting it without a proxy
# would let a client choose its own address and step around the lock.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "arena.client_address.client_address"

# Operations: GET /metrics (Prometheus) answers a bearer of METRICS_TOKEN or a client address in
# METRICS_ALLOWED_NETWORKS (comma-separated networks); with neither it does not exist. Counters and
# histograms from every process meet in Redis (arena.metrics); gauges are read at scrape time.
ARENA_METRICS_TOKEN = env_str("METRICS_TOKEN", "")
ARENA_METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS")
ARENA_METRICS_REDIS_URL = REDIS_URL

# Logs: plain lines, or one JSON object per line with LOG_FORMAT=json (arena.logs), with the request
# or task id. Celery workers then keep Django's configuration instead of installing their own.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOGGING = logs.logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Error tracking (optional): Sentry for web and workers, without personal data, request bodies or
# local variables (arena.error_tracking).
SENTRY_ENABLED = error_tracking.start(
    dsn=env_str("SENTRY_DSN", ""),
    environment=env_str("SENTRY_ENVIRONMENT", ""),
    traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
)

# Arena behaviour
ARENA_PROVIDER_CONNECT_TIMEOUT = env_float("PROVIDER_CONNECT_TIMEOUT", 5.0)
ARENA_PROVIDER_READ_TIMEOUT = env_float("PROVIDER_READ_TIMEOUT", 60.0)
ARENA_GENERATION_DEADLINE = env_float("GENERATION_DEADLINE", 180.0)
ARENA_GENERATION_MAX_RETRIES = env_int("GENERATION_MAX_RETRIES", 5)
ARENA_RATINGS_DEBOUNCE_SECONDS = env_float("RATINGS_DEBOUNCE_SECONDS", 5.0)
# A failed recomputation (database or connection error) is retried this many times, after
# exponential backoff with jitter capped at RECOMPUTE_RETRY_MAX_SECONDS.
ARENA_RECOMPUTE_MAX_RETRIES = env_int("RECOMPUTE_MAX_RETRIES", 5)
ARENA_RECOMPUTE_RETRY_MAX_SECONDS = env_int("RECOMPUTE_RETRY_MAX_SECONDS", 300)
ARENA_ELO_K = env_float("ELO_K", 4.0)
# Online Elo/TrueSkill are applied by a worker, this many votes per transaction; votes after a gap in
# the vote ids (a transaction not yet committed, or rolled back) wait until they are this many seconds old.
ARENA_ONLINE_RATINGS_BATCH = env_int("ONLINE_RATINGS_BATCH", 1000)
# A vote queues the application this many seconds later, so that a burst of votes is one publish and one batch.
ARENA_ONLINE_RATINGS_DELAY_SECONDS = env_float("ONLINE_RATINGS_DELAY_SECONDS", 1.0)
ARENA_ONLINE_RATINGS_SETTLE_SECONDS = env_float("ONLINE_RATINGS_SETTLE_SECONDS", 10.0)
ARENA_MIN_VOTES = env_int("MIN_VOTES", 30)
ARENA_BOOTSTRAP_ROUNDS = env_int("BOOTSTRAP_ROUNDS", 100)
# Boards fit Bradley–Terry with a Normal prior of this standard deviation (rating points) on each
# model's rating around the mean (maximum a posteriori), so ratings are finite and sane from the
# first vote; 0 means plain maximum likelihood. 150, from `make bench-small-arena` (5–12 models,
# 30–1,500 votes, true ratings sd 100): its 95% intervals cover the truth 94.6–98.3% of the time
# and its largest error (318 points, against 5,151 for plain MLE) is close to the best of the
# spreads tried (100–250); tighter spreads under-cover, looser ones stray further on few votes.
ARENA_RATING_PRIOR_POINTS = env_spread("RATING_PRIOR_POINTS", 150.0)
# A style-controlled board (or column) counts as a board from this many votes; below, it is shown
# marked provisional with its vote count (the style coefficients and the ratings share the votes).
ARENA_STYLE_MIN_VOTES = env_int("STYLE_MIN_VOTES", 200)
# Decision mode ("find the best model within ε"): the ε an eval lead starts from, and the confidence.
ARENA_DECISION_EPSILON = env_spread("DECISION_EPSILON", 25.0)
ARENA_DECISION_CONFIDENCE = env_probability("DECISION_CONFIDENCE", 0.95)
ARENA_MAX_PROMPT_CHARS = env_int("MAX_PROMPT_CHARS", 20000)
# Imports: prompt and generation files (admin upload and commands) are refused past
# MAX_UPLOAD_BYTES while being read; votes files are streamed, so their limit is larger.
ARENA_MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
ARENA_MAX_VOTES_FILE_BYTES = env_int("MAX_VOTES_FILE_BYTES", 4 * 1024 * 1024 * 1024)
# Any request body past this is refused with a 413 before it is read (arena.body_limit): an upload
# of MAX_UPLOAD_BYTES plus its form fits.
ARENA_MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", ARENA_MAX_UPLOAD_BYTES + 1024 * 1024)
# Uploads wait here between preview and confirm; share it between web replicas.
ARENA_UPLOAD_DIR = Path(env_str("UPLOAD_DIR", "") or BASE_DIR / "var" / "uploads")
CSRF_FAILURE_VIEW = "arena.errors.csrf_failure"
ARENA_DAILY_VOTE_CAP = env_int("DAILY_VOTE_CAP", 500)
# Too-fast votes: a vote sooner than MIN_VOTE_BASE_MS + the characters of the two answers (up to
# 3,000 each) / MIN_VOTE_CHARS_PER_SECOND is flagged; the voter is asked to take their time.
ARENA_MIN_VOTE_BASE_MS = env_int("MIN_VOTE_BASE_MS", 0)
ARENA_MIN_VOTE_CHARS_PER_SECOND = env_float("MIN_VOTE_CHARS_PER_SECOND", 100.0)
ARENA_IDENTITY_ALIASES = env_list("IDENTITY_ALIASES", [])
ARENA_NEW_LLM_BOOST_VOTES = env_int("NEW_LLM_BOOST_VOTES", 200)
ARENA_PAIRING_FLOOR = env_float("PAIRING_FLOOR", 0.1)
# Seconds each process keeps what every battle request would otherwise read again: the pairing
# policy's rating estimates, the names an answer could leak, the categories (arena.process_cache).
ARENA_PROCESS_CACHE_SECONDS = env_float("PROCESS_CACHE_SECONDS", 10.0)
ARENA_LIVE_MAX_TURNS = env_int("LIVE_MAX_TURNS", 5)
# Live battles call two paid models each: per voter, how many may wait for a vote, how many start a day,
# and how many characters (earlier turns plus the new prompt) one follow-up may send to each model.
ARENA_LIVE_MAX_OPEN = env_int("LIVE_MAX_OPEN", 3)
ARENA_LIVE_DAILY_CAP = env_int("LIVE_DAILY_CAP", 30)
ARENA_LIVE_MAX_CONVERSATION_CHARS = env_int("LIVE_MAX_CONVERSATION_CHARS", 60000)
ARENA_ALLOW_SAME_LLM_PAIRS = env_bool("ALLOW_SAME_LLM_PAIRS", False)
ARENA_OUTLIER_ALPHA = env_float("OUTLIER_ALPHA", 0.01)
# Provider API keys stored in the database are encrypted with these Fernet keys (comma-separated):
# the first encrypts, all decrypt; rotate with `manage.py rotate_api_keys`. Embedded mode makes one in var/.
ARENA_FERNET_KEYS = env_list("ARENA_FERNET_KEYS", []) or ([config.embedded_fernet_key(BASE_DIR)] if EMBEDDED else [])
# Base URLs on private networks or loopback (a local vLLM or Ollama); on by default only in embedded mode.
ARENA_ALLOW_PRIVATE_ENDPOINTS = env_bool("ARENA_ALLOW_PRIVATE_ENDPOINTS", EMBEDDED)
# Wall-clock budget of the admin's "test connection" call (seconds).
ARENA_TEST_CONNECTION_DEADLINE = env_float("TEST_CONNECTION_DEADLINE", 15.0)
# Generation jobs (see battles.generation.runner, battles.generation.limits and battles.generation.jobs)
# Generations per worker task; they run concurrently inside it, within each LLM's limits.
ARENA_GENERATION_BATCH_SIZE = env_int("GENERATION_BATCH_SIZE", 50)
# A batch stops waiting for provider slots after this many seconds and re-queues what it has not started,
# so that no task outlives the broker's visibility timeout.
ARENA_GENERATION_BATCH_WAIT = env_float("GENERATION_BATCH_WAIT", 60.0)
# Consecutive failed generations of one LLM that open its circuit breaker (0 = never).
ARENA_BREAKER_THRESHOLD = env_int("BREAKER_THRESHOLD", 5)
# The reconciler re-queues pending generations this many seconds past due (their message was lost).
ARENA_GENERATION_REQUEUE_AFTER = env_float("GENERATION_REQUEUE_AFTER", 600.0)
# At most one live progress update per job per this many seconds.
ARENA_JOB_PROGRESS_INTERVAL = env_float("JOB_PROGRESS_INTERVAL", 0.5)
# The vibes gap (ratings.engine.vibes): a model is flagged for hands-on evaluation when, under the
# board's posterior, the probability that its arena rank lies within fewer than
# max(VIBES_GAP_MIN_PLACES, VIBES_GAP_MIN_SHARE x compared models) places of its benchmark rank is
# below 1 - VIBES_GAP_CONFIDENCE (and it has ARENA_MIN_VOTES). `make bench-vibes-gap` measures it.
ARENA_VIBES_GAP_CONFIDENCE = env_probability("VIBES_GAP_CONFIDENCE", 0.95)
ARENA_VIBES_GAP_MIN_PLACES = env_spread("VIBES_GAP_MIN_PLACES", 2.0)
ARENA_VIBES_GAP_MIN_SHARE = env_spread("VIBES_GAP_MIN_SHARE", 0.2)
# Posterior draws of the ratings behind the flag and the Spearman/Kendall intervals.
ARENA_VIBES_GAP_DRAWS = env_int("VIBES_GAP_DRAWS", 2000)
# JSON API: votes per page by default, and the most a client may ask for.
ARENA_API_PAGE_SIZE = env_int("API_PAGE_SIZE", 100)
ARENA_API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000)
# Aggregated vote counts: an id below the watermark not yet visible (a vote still committing) is looked
# for again for this long, then taken as rolled back.
ARENA_COUNTS_GAP_SECONDS = env_float("COUNTS_GAP_SECONDS", 300.0)
# A board page queues one refit per board; another is not queued while this one is pending (seconds).
ARENA_REFIT_PENDING_SECONDS = env_int("REFIT_PENDING_SECONDS", 300)
# While the CPU is contended (ratings.refit_pacing: Linux's CPU pressure, the share of time some task waited
# for a CPU, at least REFIT_PACE_CONTENTION), each boards-worker process waits after a refit until it has
# used at most REFIT_CPU_SHARE_UNDER_LOAD of a core since the refit began (at most REFIT_PAUSE_MAX_SECONDS):
# voters' requests first. A share of 0 (or 1 and more) turns it off.
ARENA_REFIT_PACE_CONTENTION = env_probability("REFIT_PACE_CONTENTION", 0.2)
ARENA_REFIT_CPU_SHARE_UNDER_LOAD = env_spread("REFIT_CPU_SHARE_UNDER_LOAD", 0.05)
ARENA_REFIT_PAUSE_MAX_SECONDS = env_spread("REFIT_PAUSE_MAX_SECONDS", 10.0)
# "Votes behind" is counted up to this many; beyond, a page says "more than".
ARENA_LAG_COUNT_LIMIT = env_int("LAG_COUNT_LIMIT", 10_000)
# Seconds between reloads of a board page that waits for its first fit.
ARENA_BOARD_REFRESH_SECONDS = env_int("BOARD_REFRESH_SECONDS", 3)
# Tests only: run a board's refit at once and serve its result (as boards were before issue 11).
ARENA_BOARDS_FIT_INLINE = False
# Leaderboards: filtered boards are cached as snapshots; keep this many per filter.
ARENA_FILTERED_SNAPSHOTS_KEPT = env_int("FILTERED_SNAPSHOTS_KEPT", 5)
# ...and this many of the default board and of its style-controlled board (the newest is always kept).
ARENA_SNAPSHOTS_KEPT = env_int("SNAPSHOTS_KEPT", 5)
# First place is "fragile" when dropping fewer than this many votes, or this share of all votes, changes it.
ARENA_FRAGILE_TOP_VOTES = env_int("FRAGILE_TOP_VOTES", 20)
ARENA_FRAGILE_TOP_SHARE = env_float("FRAGILE_TOP_SHARE", 0.01)
# Rating over time: at most this many cumulative refits per chart.
ARENA_HISTORY_POINTS = env_int("HISTORY_POINTS", 30)
