"""Views of the project itself (not of an app)."""

from django.db import connection
from django.http import HttpResponse


def healthz(request):
    """Answers "ok" when this process can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
