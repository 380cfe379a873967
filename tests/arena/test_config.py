import pytest
from django.core.exceptions import ImproperlyConfigured

from arena import config


def test_unset_database_url_means_sqlite(tmp_path):
    db = config.database("", tmp_path / "db.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"


def test_postgres_url_is_parsed():
    db = config.database("postgres://u:p@db.example:5433/arena", None)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.example", 5433, "arena", "u")


def test_unsupported_database_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        config.database("mysql://x/y", None)


def test_unset_redis_means_in_memory_layer_and_local_cache():
    assert config.channel_layer("")["BACKEND"].endswith("InMemoryChannelLayer")
    assert config.cache("")["BACKEND"].endswith("LocMemCache")


def test_redis_url_selects_channels_redis_and_redis_cache():
    assert config.channel_layer("redis://r:6379/0")["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert config.cache("redis://r:6379/0")["BACKEND"].endswith("RedisCache")


def test_malformed_redis_url_is_refused():
    with pytest.raises(ImproperlyConfigured):
        config.cache("http://r:6379")


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("no", False), ("0", False)])
def test_booleans_parse_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert config.env_bool("X_FLAG", not expected) is expected


def test_garbage_boolean_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        config.env_bool("X_FLAG", False)


def test_garbage_integer_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        config.env_int("X_NUM", 1)


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "wide"])
def test_a_spread_must_be_a_finite_number_of_at_least_zero(monkeypatch, raw):
    monkeypatch.setenv("X_SPREAD", raw)
    with pytest.raises(ImproperlyConfigured, match="X_SPREAD"):
        config.env_spread("X_SPREAD", 1.0)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0.0), ("150", 150.0), ("", 7.5)])
def test_a_spread_of_zero_or_more_is_taken_and_empty_means_the_default(monkeypatch, raw, expected):
    monkeypatch.setenv("X_SPREAD", raw)
    assert config.env_spread("X_SPREAD", 7.5) == expected


def test_broker_without_shared_channel_layer_is_an_error():
    problems = config.configuration_problems(
        database_engine="django.db.backends.postgresql",
        broker_url="redis://r/0",
        channel_backend="channels.layers.InMemoryChannelLayer",
        cache_backend="django.core.cache.backends.redis.RedisCache",
        secret_key_from_env=True,
    )
    assert [p[0] for p in problems] == ["arena.E001"]


def test_broker_with_sqlite_and_local_cache_are_errors():
    problems = config.configuration_problems(
        database_engine="django.db.backends.sqlite3",
        broker_url="redis://r/0",
        channel_backend="channels_redis.core.RedisChannelLayer",
        cache_backend="django.core.cache.backends.locmem.LocMemCache",
        secret_key_from_env=False,
    )
    assert {p[0] for p in problems} == {"arena.E002", "arena.E003"}


def test_embedded_and_full_configurations_have_no_problems():
    embedded = config.configuration_problems(
        database_engine="django.db.backends.sqlite3",
        broker_url="",
        channel_backend="channels.layers.InMemoryChannelLayer",
        cache_backend="django.core.cache.backends.locmem.LocMemCache",
        secret_key_from_env=False,
    )
    full = config.configuration_problems(
        database_engine="django.db.backends.postgresql",
        broker_url="redis://r/0",
        channel_backend="channels_redis.core.RedisChannelLayer",
        cache_backend="django.core.cache.backends.redis.RedisCache",
        secret_key_from_env=True,
    )
    assert embedded == [] and full == []


def test_half_configured_settings_fail_manage_py_check(tmp_path):
    """A real process: broker set, no REDIS_URL → the system check stops it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_URL"}}
    env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/0"
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "arena.E001" in result.stderr


def test_the_embedded_secret_key_is_readable_by_its_owner_only(tmp_path):
    key = config.embedded_secret_key(tmp_path)
    path = tmp_path / "var" / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert config.embedded_secret_key(tmp_path) == key  # the same key on the next start


def test_an_old_world_readable_secret_key_file_is_tightened(tmp_path):
    path = tmp_path / "var" / "secret_key"
    path.parent.mkdir()
    path.write_text("an-old-key")
    path.chmod(0o644)
    assert config.embedded_secret_key(tmp_path) == "an-old-key"
    assert path.stat().st_mode & 0o777 == 0o600


def sso(**overrides):
    values = {
        "issuer": "https://idp.corp.example/realms/staff",
        "client_id": "arena",
        "client_secret": "s3cret",
        "scopes": "openid email profile",
        "password_login": True,
    }
    values.update(overrides)
    return [check_id for check_id, _ in config.oidc_problems(**values)]


def test_single_sign_on_settings_that_work_have_no_problems():
    assert sso() == []
    assert sso(issuer="http://127.0.0.1:9000", password_login=False) == []  # a local provider, for tests
    assert sso(issuer="", client_id="", client_secret="") == []  # single sign-on off


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"issuer": "", "password_login": False}, "arena.E010"),
        ({"issuer": "http://idp.corp.example"}, "arena.E011"),
        ({"issuer": "idp.corp.example"}, "arena.E011"),
        ({"issuer": "https://idp.corp.example/?tenant=x"}, "arena.E011"),
        ({"client_secret": ""}, "arena.E012"),
        ({"client_id": ""}, "arena.E012"),
        ({"scopes": "email profile"}, "arena.E013"),
    ],
)
def test_single_sign_on_settings_that_cannot_work_are_errors(overrides, problem):
    assert sso(**overrides) == [problem]


def test_single_sign_on_without_a_client_secret_fails_manage_py_check():
    import os
    import subprocess
    import sys

    env = {**os.environ, "OIDC_ISSUER": "https://idp.corp.example", "OIDC_CLIENT_ID": "arena", "OIDC_CLIENT_SECRET": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "arena.E012" in result.stderr
