"""Views of the project itself (not of an app)."""

import hmac
import ipaddress

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST

from arena import metrics as arena_metrics
from arena.client_address import client_address
from arena.methods import allow_methods


def healthz(request):
    """Answers "ok" when this process can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None):
    """django-axes' answer to a locked sign-in: a page that says why and for how long (HTTP 429)."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


@never_cache
@allow_methods("GET")
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a bearer of ``METRICS_TOKEN`` or a client in ``METRICS_ALLOWED_NETWORKS``;
    with neither set the endpoint does not exist."""
    token, networks = settings.ARENA_METRICS_TOKEN, settings.ARENA_METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not (_bears_token(request, token) or _comes_from(request, networks)):
        response = HttpResponse("Not allowed: send the metrics token.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(arena_metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def _bears_token(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _comes_from(request: HttpRequest, networks: list) -> bool:
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in networks)
