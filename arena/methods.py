"""Which HTTP methods a view takes, refused with the site's own pages.

``allow_methods`` replaces Django's ``require_http_methods`` on pages people open: a GET on an
address that only takes a form post is sent on to the page the form belongs to (a reopened tab, a
bookmark, Back after a post), and any other method gets the styled 405 page with an ``Allow``
header. ``MethodsMiddleware`` applies the same answer before the CSRF check, which would otherwise
answer ``PUT /`` with "Page expired".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpResponse, HttpResponseRedirect

from arena.errors import method_not_allowed

GetRedirect = Callable[..., str]


def allow_methods(*methods: str, redirect_get: GetRedirect | None = None):
    """Decorate a view so that only ``methods`` reach it (HEAD goes with GET).

    ``redirect_get(request, **view_kwargs)`` gives the address a refused GET or HEAD is
    redirected to; without it, those get the 405 page too.
    """
    allowed = frozenset(m.upper() for m in methods) | ({"HEAD"} if "GET" in (m.upper() for m in methods) else set())

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs) -> HttpResponse:
            if request.method in allowed:
                return view(request, *args, **kwargs)
            if redirect_get is not None and request.method in ("GET", "HEAD"):
                return HttpResponseRedirect(redirect_get(request, *args, **kwargs))
            return method_not_allowed(request, allowed)

        wrapper.allowed_methods = allowed
        return wrapper

    return decorator


class MethodsMiddleware:
    """Refuse a method a view never takes before ``CsrfViewMiddleware`` looks at the request.

    A refused request changes nothing, so skipping the CSRF check for it is safe, and the voter
    learns the real reason (405) instead of being told the page expired.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        allowed = getattr(view_func, "allowed_methods", None)
        if allowed is None or request.method in allowed:
            return None
        # The decorator's wrapper answers without calling the view for a method it does not allow.
        return view_func(request, *view_args, **view_kwargs)
