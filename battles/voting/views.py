import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from battles.models import Battle, Prompt, Vote
from battles.voting import live, serving, votes
from battles.voting.pages import reveal_context, vote_form_context

logger = logging.getLogger(__name__)


def _wants_fragment(request) -> bool:
    return request.headers.get("X-Arena-Fragment") == "1"


def _progress(user):
    return {
        "today": votes.votes_today(user),
        "total": Vote.objects.filter(voter=user).count(),
        "board_after": votes.PERSONAL_BOARD_MIN_VOTES,
    }


@require_GET
@login_required
def battle_page(request):
    category = request.GET.get("category") or None
    battle = serving.start_battle(voter=request.user, category=category)
    categories = sorted(
        c
        for c in Prompt.objects.filter(hidden=False).exclude(category="").values_list("category", flat=True).distinct()
    )
    return render(
        request,
        "battles/battle.html",
        {
            **vote_form_context(),
            "battle": battle,
            "progress": _progress(request.user),
            "categories": categories,
            "category": category or "",
        },
    )


@require_POST
@login_required
def vote(request, code):
    # Without JavaScript the clicked button sends the outcome after the (empty) hidden field.
    outcome = next((v for v in reversed(request.POST.getlist("outcome")) if v), "")
    try:
        result = votes.record_vote(
            battle_code=code,
            voter=request.user,
            outcome=outcome,
            reasons_a=request.POST.getlist("reasons_a"),
            reasons_b=request.POST.getlist("reasons_b"),
            comment=request.POST.get("comment", ""),
        )
    except votes.VoteError as error:
        context = {"error": error.message}
        template = "battles/_vote_error.html" if _wants_fragment(request) else "battles/vote_error.html"
        return render(request, template, context, status=error.status_code)
    try:
        return _render_reveal(request, result.vote, replayed=result.replayed)
    except Exception:
        # The vote is committed: whatever failed after it (the database, a template), the voter
        # must hear that it counted, never "try again".
        logger.exception("vote %s stored, but its reveal could not be rendered", result.vote.pk)
        return _render_vote_counted(request, live=result.vote.live)


def _render_vote_counted(request, *, live: bool) -> HttpResponse:
    """The reveal's stand-in: the vote counted, and the way on. Reads nothing from the database."""
    context = {"live": live}
    if _wants_fragment(request):
        return render(request, "battles/_vote_counted.html", context)
    try:
        return render(request, "battles/vote_counted.html", context)
    except Exception:
        # The page layout failed too: the fragment alone still says what matters.
        logger.exception("the vote-counted page could not be rendered")
        return render(request, "battles/_vote_counted.html", context)


def _render_reveal(request, vote, *, replayed):
    context = {**reveal_context(vote, replayed=replayed), "progress": _progress(request.user)}
    if _wants_fragment(request):
        response = render(request, "battles/_reveal.html", context)
        # The page's progress strip is outside the replaced panel; the script updates it from these.
        response["X-Arena-Votes-Today"] = str(context["progress"]["today"])
        response["X-Arena-Votes-Total"] = str(context["progress"]["total"])
        return response
    return render(request, "battles/reveal.html", context)


@login_required
def live_start(request):
    """GET: the prompt form. POST: start a live battle on the typed prompt."""
    error = None
    text = ""
    if request.method == "POST":
        text = request.POST.get("prompt", "")
        try:
            battle = live.start_live_battle(voter=request.user, text=text)
        except live.LiveBattleError as exc:
            error = exc.message
        else:
            return redirect("battles:live", code=battle.code)
    return render(
        request,
        "battles/live_start.html",
        {
            "error": error,
            "text": text,
            "progress": _progress(request.user),
            "max_chars": settings.ARENA_MAX_PROMPT_CHARS,
            "open_live": live.open_live_battles(request.user),
        },
        status=400 if error else 200,
    )


@require_GET
@login_required
def live_battle(request, code):
    battle = Battle.objects.filter(code=code, live=True, voter=request.user).first()
    if battle is None:
        raise Http404
    if battle.status == Battle.Status.VOTED:
        return _render_reveal(request, battle.vote, replayed=False)
    return render(
        request,
        "battles/live.html",
        {
            **vote_form_context(),
            **live.battle_view(battle),
            "progress": _progress(request.user),
        },
    )


@require_POST
@login_required
def live_follow_up(request, code):
    try:
        live.add_follow_up(battle_code=code, voter=request.user, text=request.POST.get("prompt", ""))
    except live.LiveBattleError as exc:
        if _wants_fragment(request):
            return render(request, "battles/_vote_error.html", {"error": exc.message}, status=400)
        messages.error(request, exc.message)
    if _wants_fragment(request):
        return HttpResponse(status=204)
    return redirect("battles:live", code=code)


@require_GET
@login_required
def my_board(request):
    progress = _progress(request.user)
    board = votes.personal_leaderboard(voter=request.user) if progress["total"] >= progress["board_after"] else []
    return render(request, "battles/my_board.html", {"progress": progress, "board": board})


@require_POST
@login_required
def skip(request, code):
    serving.skip_battle(battle_code=code, voter=request.user)
    return redirect("battles:battle")
