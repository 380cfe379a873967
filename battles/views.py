from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from battles import services
from battles.models import Battle, Prompt, Vote

VOTE_CHOICES = [
    ("a", "A is better", "1"),
    ("b", "B is better", "2"),
    ("tie", "Tie", "3"),
    ("both_bad", "Both are bad", "4"),
]


REASON_LABELS = {
    "correct": "Correct", "follows_instructions": "Follows instructions", "clear": "Clear",
    "concise": "Concise", "tone": "Good tone", "formatting": "Good formatting", "safe": "Safe",
    "hallucinated": "Hallucinated",
}


def vote_form_context() -> dict:
    return {
        "choices": VOTE_CHOICES,
        "reason_tags": [(tag, REASON_LABELS[tag]) for tag in services.REASON_TAGS],
        "reason_sides": [("A", "reasons_a"), ("B", "reasons_b")],
    }


def _wants_fragment(request) -> bool:
    return request.headers.get("X-Arena-Fragment") == "1"


def _progress(user):
    from django.utils import timezone

    today = timezone.localdate()
    votes = Vote.objects.filter(voter=user)
    return {"today": votes.filter(created_at__date=today).count(), "total": votes.count()}


@require_GET
@login_required
def battle_page(request):
    category = request.GET.get("category") or None
    battle = services.start_battle(voter=request.user, category=category)
    categories = sorted(
        c for c in Prompt.objects.filter(hidden=False).exclude(category="").values_list("category", flat=True).distinct()
    )
    return render(request, "battles/battle.html", {
        **vote_form_context(),
        "battle": battle,
        "progress": _progress(request.user),
        "categories": categories,
        "category": category or "",
    })


@require_POST
@login_required
def vote(request, code):
    # Without JavaScript the clicked button sends the outcome after the (empty) hidden field.
    outcome = next((v for v in reversed(request.POST.getlist("outcome")) if v), "")
    try:
        result = services.record_vote(
            battle_code=code, voter=request.user, outcome=outcome,
            reasons_a=request.POST.getlist("reasons_a"), reasons_b=request.POST.getlist("reasons_b"),
            comment=request.POST.get("comment", ""),
        )
    except services.VoteError as error:
        context = {"error": error.message}
        template = "battles/_vote_error.html" if _wants_fragment(request) else "battles/vote_error.html"
        return render(request, template, context, status=error.status_code)
    vote = result.vote
    battle = Battle.objects.select_related(
        "prompt", "generation_a__llm_version__llm", "generation_b__llm_version__llm"
    ).get(pk=vote.battle_id)
    context = {
        "battle": battle,
        "vote": vote,
        "replayed": result.replayed,
        "progress": _progress(request.user),
        "sides": [("A", battle.generation_a), ("B", battle.generation_b)],
    }
    if _wants_fragment(request):
        response = render(request, "battles/_reveal.html", context)
        # The page's progress strip is outside the replaced panel; the script updates it from these.
        response["X-Arena-Votes-Today"] = str(context["progress"]["today"])
        response["X-Arena-Votes-Total"] = str(context["progress"]["total"])
        return response
    return render(request, "battles/reveal.html", context)


@require_POST
@login_required
def skip(request, code):
    services.skip_battle(battle_code=code, voter=request.user)
    return redirect("battles:battle")


def healthz(request):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
