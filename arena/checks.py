import os

from django.conf import settings
from django.core.checks import Error, register

from arena.config import configuration_problems


@register()
def check_service_configuration(app_configs, **kwargs):
    problems = configuration_problems(
        database_engine=settings.DATABASES["default"]["ENGINE"],
        broker_url=settings.CELERY_BROKER_URL,
        channel_backend=settings.CHANNEL_LAYERS["default"]["BACKEND"],
        cache_backend=settings.CACHES["default"]["BACKEND"],
        secret_key_from_env=bool(os.environ.get("SECRET_KEY", "").strip()),
    )
    return [Error(message, id=check_id) for check_id, message in problems]


@register(deploy=True)
def check_secret_key_is_not_the_example(app_configs, **kwargs):
    """``check --deploy`` refuses the placeholder SECRET_KEY of .env.example."""
    if settings.SECRET_KEY.startswith("change-me"):
        return [Error("SECRET_KEY is the placeholder from .env.example; set a long random value.", id="arena.E005")]
    return []
