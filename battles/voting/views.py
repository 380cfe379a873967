import logging
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from arena.methods import allow_methods
from arena.request_user import adopt_user, session_user_id
from battles.models import Battle
from battles.voting import battle_reads, live, progress, serving, votes
from battles.voting.pages import REPLAYED_NOTICE, VOTE_NOT_STORED, reveal_context, vote_form_context

logger = logging.getLogger(__name__)


def _wants_fragment(request) -> bool:
    return request.headers.get("X-Arena-Fragment") == "1"


def _progress(user):
    return progress.progress_of(user)


def _category_of(request) -> str:
    return request.GET.get("category", "")


def _with_category(url: str, category: str) -> str:
    return f"{url}?{urlencode({'category': category})}" if category else url


def _battle_url(request, code) -> str:
    """A battle's own page, keeping the chosen category for the battles after it."""
    return _with_category(reverse("battles:battle_detail", args=[code]), _category_of(request))


def _next_url(request) -> str:
    return _with_category(reverse("battles:battle"), _category_of(request))


def _battle_page_context(request, battle, category: str, *, voter_progress: dict | None = None) -> dict:
    return {
        **vote_form_context(),
        "battle": battle,
        "progress": voter_progress or _progress(request.user),
        "categories": serving.categories(),
        "category": category,
    }


@allow_methods("GET")
def battle_page(request):
    """The voter's current battle, or a new one in the chosen category, shown here.

    Its page is rendered at ``/`` rather than redirected to (one request less for each battle);
    battle.js puts the battle's own address in the address bar, so Reload and Back reopen that
    battle (its pair, or once voted its reveal). Without JavaScript the address stays ``/``, whose
    Reload shows the same open battle.
    """
    # The voter, their counts and roles read as one prepared statement (battle_reads); when the
    # session does not check out that way, login_required loads the user as Django does.
    return _battle_page(request, battle_reads.adopt_session_voter(request))


@login_required
@never_cache
def _battle_page(request, voter_progress: dict | None):
    category = _category_of(request)
    if category and category not in serving.categories():
        context = _battle_page_context(request, None, category, voter_progress=voter_progress)
        return render(request, "battles/battle.html", {**context, "unknown_category": category}, status=404)
    battle, new = serving.serve_battle(voter=request.user, category=category or None)
    if battle is not None and not new:
        # The voter's open battle (a reload of ``/``): read as its own page reads it, in one query.
        battle = battle_reads.page_battle(battle.code, request.user.pk) or battle
    context = _battle_page_context(request, battle, category, voter_progress=voter_progress)
    return render(request, "battles/battle.html", context)


def _battle_of_session_user(request, code) -> Battle | None:
    """The signed-in voter's battle, its voter made ``request.user`` (``arena.request_user``): no user query.

    None when the session names no user, the battle is not theirs or the session does not check out.
    """
    voter_id = session_user_id(request)
    battle = battle_reads.page_battle(code, voter_id) if voter_id is not None else None
    if battle is None or not adopt_user(request, battle.voter):
        return None
    return battle


@allow_methods("GET")
# Not kept by the browser's cache: Back to a battle voted since must fetch its reveal, not the old form.
@never_cache
def battle_detail(request, code):
    """One battle's page: the open pair (a reload shows it again) or, once voted, its reveal (Back shows it)."""
    return _battle_detail(request, code, _battle_of_session_user(request, code))


@login_required
def _battle_detail(request, code, battle):
    if battle is None:
        # Not taken from the battle's row (a session signed with an older secret, or not their
        # battle): the user was loaded the ordinary way; read the battle again for that user.
        battle = battle_reads.page_battle(code, request.user.pk)
    if battle is None:
        raise Http404
    voter_progress = progress.adopt_voter_state(request.user, battle)
    if battle.live:
        return redirect("battles:live", code=code)
    if battle.status == Battle.Status.VOTED:
        votes.share_versions(battle)
        stored = votes.stored_vote(battle)
        if stored is not None:
            return _reveal_or_counted(request, stored, battle=battle, voter_progress=voter_progress)
    if battle.status != Battle.Status.OPEN:
        messages.info(request, "That battle was skipped, so it can no longer be voted on. Here is your current one.")
        return redirect(_next_url(request))
    context = _battle_page_context(request, battle, _category_of(request), voter_progress=voter_progress)
    return render(request, "battles/battle.html", context)


def _battle_url_after_vote_get(request, code) -> str:
    """A GET on the vote address, as after signing in again when the session expired during a vote
    without JavaScript: the vote was not stored, and the voter is told so on the battle's page."""
    if (
        request.user.is_authenticated
        and Battle.objects.filter(code=code, voter=request.user, status=Battle.Status.OPEN).exists()
    ):
        messages.warning(request, VOTE_NOT_STORED)
    return _battle_url(request, code)


@allow_methods("POST", redirect_get=_battle_url_after_vote_get)
def vote(request, code):
    voter_id = session_user_id(request)
    if voter_id is not None:
        try:
            # The voter comes with the battle's locked row, made request.user after the checks
            # Django's get_user() makes (arena.request_user): the vote loads no user of its own.
            return _vote(request, code, voter_id=voter_id, adopt_voter=partial(adopt_user, request))
        except votes.VoterUnconfirmed:
            pass  # nothing stored: the user is loaded as Django does (signed out, or refused the vote)
    return _vote_of_loaded_user(request, code)


@login_required
def _vote_of_loaded_user(request, code):
    return _vote(request, code, voter=request.user)


def _vote(request, code, **voter) -> HttpResponse:
    """Record the vote of ``voter`` (``record_vote``'s voter arguments) and answer with its reveal."""
    # Without JavaScript the clicked button sends the outcome after the (empty) hidden field.
    outcome = next((v for v in reversed(request.POST.getlist("outcome")) if v), "")
    try:
        result = votes.record_vote(
            battle_code=code,
            **voter,
            outcome=outcome,
            reasons_a=request.POST.getlist("reasons_a"),
            reasons_b=request.POST.getlist("reasons_b"),
            comment=request.POST.get("comment", ""),
        )
    except votes.VoteError as error:
        context = {"error": error.message}
        template = "battles/_vote_error.html" if _wants_fragment(request) else "battles/vote_error.html"
        return render(request, template, context, status=error.status_code)
    if not _wants_fragment(request):
        return _reveal_redirect(request, code, replayed=result.replayed)
    return _reveal_or_counted(
        request,
        result.vote,
        replayed=result.replayed,
        battle=result.battle,
        turns=result.turns,
        voter_progress=result.progress,
    )


def _reveal_or_counted(request, vote, *, replayed=False, battle=None, turns=None, voter_progress=None) -> HttpResponse:
    """The reveal of a stored vote, or, if it cannot be rendered, word that the vote counted.

    ``battle``, ``turns`` and ``voter_progress``: as the vote (or the page's one query) read them;
    given, the reveal reads nothing more.
    """
    try:
        return _render_reveal(
            request, vote, replayed=replayed, battle=battle, turns=turns, voter_progress=voter_progress
        )
    except Exception:
        # The vote is committed: whatever failed after it (the database, a template), the voter
        # must hear that it counted, never "try again".
        logger.exception("vote %s stored, but its reveal could not be rendered", vote.pk)
        return _render_vote_counted(request, live=vote.live)


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


def _reveal_redirect(request, code, *, replayed):
    """POST → redirect → GET: the address bar then holds the battle's own page, which Reload and Back reopen."""
    if replayed:
        messages.info(request, REPLAYED_NOTICE)
    return redirect(_battle_url(request, code))


def _render_reveal(request, vote, *, replayed, battle=None, turns=None, voter_progress=None):
    context = {
        **reveal_context(vote, replayed=replayed, battle=battle, turns=turns),
        "progress": voter_progress or _progress(request.user),
    }
    if _wants_fragment(request):
        response = render(request, "battles/_reveal.html", context)
        # The page's progress strip is outside the replaced panel; the script updates it from these.
        response["X-Arena-Votes-Today"] = str(context["progress"]["today"])
        response["X-Arena-Votes-Total"] = str(context["progress"]["total"])
        return response
    return render(request, "battles/reveal.html", context)


@allow_methods("GET", "POST")
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


@allow_methods("GET")
@login_required
def live_battle(request, code):
    battle = Battle.objects.filter(code=code, live=True, voter=request.user).first()
    if battle is None:
        raise Http404
    if battle.status == Battle.Status.VOTED:
        return _reveal_or_counted(request, battle.vote)
    return render(
        request,
        "battles/live.html",
        {
            **vote_form_context(),
            **live.battle_view(battle),
            "progress": _progress(request.user),
        },
    )


@allow_methods("POST", redirect_get=lambda request, code: reverse("battles:live", args=[code]))
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


@allow_methods("GET")
@login_required
def my_board(request):
    progress = _progress(request.user)
    board = votes.personal_leaderboard(voter=request.user) if progress["total"] >= progress["board_after"] else []
    return render(request, "battles/my_board.html", {"progress": progress, "board": board})


@allow_methods("POST", redirect_get=_battle_url)
@login_required
def skip(request, code):
    serving.skip_battle(battle_code=code, voter=request.user)
    if Battle.objects.filter(code=code, voter=request.user, live=True).exists():
        return redirect("battles:live_start")  # set aside from the live page's list: back to it
    return redirect(_next_url(request))
