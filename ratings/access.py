"""Who may open the post-vote pages (boards, exports, benchmark comparisons): they name models."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_GET, require_POST

from arena.roles import can_see_leaderboard


def _insiders_with(method_decorator):
    """A view decorator: ``method_decorator``'s methods only, signed in, eval lead or admin; else 403."""

    def decorate(view):
        @method_decorator
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not can_see_leaderboard(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


# POST only (changes an eval lead may make, e.g. decision objectives).
insiders_may_change = _insiders_with(require_POST)
# GET only (every page that names models).
insiders_only = _insiders_with(require_GET)
