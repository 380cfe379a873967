import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

app = Celery("arena")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules of the installed apps, and the generation pipeline's (a sub-package of battles).
app.autodiscover_tasks()
app.autodiscover_tasks(["battles.generation"])
