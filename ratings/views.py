from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from battles.roles import can_see_leaderboard, roles_of
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


@require_GET
@login_required
def integrity(request):
    if "admin" not in roles_of(request.user) and not can_see_leaderboard(request.user):
        raise PermissionDenied
    from ratings.quality import integrity_summary

    return render(request, "ratings/integrity.html", integrity_summary())
