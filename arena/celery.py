import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

# Without a broker, tasks run on a thread pool of this process (arena.embedded_tasks), not inside the request.
app = Celery("arena", task_cls="arena.embedded_tasks:EmbeddedAwareTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules of the installed apps, and the generation pipeline's (a sub-package of battles).
app.autodiscover_tasks()
app.autodiscover_tasks(["battles.generation", "battles.catalog", "battles.voting"])
