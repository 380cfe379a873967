from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Arena"

    def ready(self):
        from arena import checks  # noqa: F401  (registers system checks)
