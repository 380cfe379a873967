from django.apps import AppConfig


class BattlesConfig(AppConfig):
    name = "battles"
    verbose_name = "Battles"

    def ready(self):
        from battles import checks  # noqa: F401  (registers system checks)
