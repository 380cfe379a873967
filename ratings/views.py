from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from battles.roles import can_see_leaderboard
from ratings import services


@require_GET
@login_required
def leaderboard(request):
    if not can_see_leaderboard(request.user):
        raise PermissionDenied
    snapshot = services.latest_snapshot()
    return render(request, "ratings/leaderboard.html", {
        "snapshot": snapshot,
        "rows": services.leaderboard_rows(snapshot),
    })
