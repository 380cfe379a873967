"""Who may open the post-vote pages (boards, exports, benchmark comparisons): they name models."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_GET, require_POST

from arena.roles import can_see_leaderboard


def insiders_may_change(view):
    """POST only, signed in, eval lead or admin; everyone else gets 403."""

    @require_POST
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_see_leaderboard(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def insiders_only(view):
    """GET only, signed in, eval lead or admin; everyone else gets 403."""

    @require_GET
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_see_leaderboard(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
