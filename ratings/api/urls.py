"""The API's URLs: django-ninja's, answering only GET.

ninja answers another method on a known path with a plain-text 405; the API's errors are
JSON, so every method but GET is refused here, before ninja, as the other errors are.
"""

from functools import wraps

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from ratings.api.views import api

app_name = "api"


def get_only(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET":
            response = JsonResponse(
                {"error": "method_not_allowed", "detail": "this endpoint only answers GET"}, status=405
            )
            response["Allow"] = "GET"
            response["Cache-Control"] = "no-store"
            return response
        return view(request, *args, **kwargs)

    return wrapped


def guarded(pattern):
    # "api-root" only lets ninja find the API's prefix: it answers 404 to every method (and,
    # like the rest of the API, never asks for a CSRF token).
    view = csrf_exempt(pattern.callback) if pattern.name == "api-root" else get_only(pattern.callback)
    return path(str(pattern.pattern), view, name=pattern.name)


ninja_patterns, _, _ = api.urls
urlpatterns = [guarded(pattern) for pattern in ninja_patterns]
