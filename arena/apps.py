from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Arena"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from arena import after_response, checks  # noqa: F401  (checks registers system checks)

        request_started.connect(after_response.on_request_started, dispatch_uid="arena.after_response.started")
        request_finished.connect(after_response.on_request_finished, dispatch_uid="arena.after_response.finished")
