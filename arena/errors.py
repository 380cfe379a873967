"""Friendly error pages: a person never sees a traceback."""

from django.http import HttpResponse
from django.shortcuts import render


def _page(request, status, title, message):
    try:
        return render(request, "error.html", {"title": title, "message": message}, status=status)
    except Exception:  # noqa: BLE001  (the error page itself must not fail)
        return HttpResponse(f"{title}: {message}", status=status, content_type="text/plain")


def not_found(request, exception=None):
    return _page(request, 404, "Not found", "There is nothing at this address.")


def server_error(request):
    return _page(request, 500, "Something went wrong", "The error was logged. Please try again in a moment.")


def forbidden(request, exception=None):
    return _page(request, 403, "Not allowed", "Your account does not have access to this page.")


def bad_request(request, exception=None):
    return _page(request, 400, "Bad request", "The request could not be understood.")


def csrf_failure(request, reason=""):
    return _page(request, 403, "Page expired", "Your session or the page expired. Reload the page and try again.")


def method_not_allowed(request, allowed):
    response = _page(
        request,
        405,
        "Not possible here",
        f"This address does not take {request.method} requests. Open it in the browser or go back to the arena.",
    )
    response["Allow"] = ", ".join(sorted(allowed))
    return response
