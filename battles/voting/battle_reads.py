"""The one read behind a battle's page and behind a vote, written once as SQL (``arena.hot_reads``).

One row: the battle, its prompt, both answers, its vote (if any) and, for the page, its voter;
with the voter's vote counts (in total and today) and roles, which the page's progress strip,
the daily cap and the menu need (``battles.voting.progress.adopt_voter_state``). The versions
come from ``battles.voting.votes.all_versions``, not from joins.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from arena.hot_reads import ModelColumns, fetch_rows, prep_value
from arena.request_user import adopt_user, session_user_id
from arena.roles import ALL_ROLES
from battles.models import Battle, Generation, Prompt, Vote
from battles.voting import tallies
from battles.voting.progress import adopt_voter_state

BATTLE = ModelColumns(Battle, "b")
PROMPT = ModelColumns(Prompt, "p")
ANSWER_A = ModelColumns(Generation, "ga")
ANSWER_B = ModelColumns(Generation, "gb")
VOTE = ModelColumns(Vote, "v")
VOTER = ModelColumns(get_user_model(), "u")


def _voter_state(voter: str) -> str:
    """The voter's vote counts (in total, then today: ``tallies.today_param()`` is the first parameter)
    and roles, as columns of a query that has the voter's id in the column ``voter``."""
    quote = connection.ops.quote_name
    groups = quote(Group._meta.db_table)
    memberships = quote(get_user_model().groups.through._meta.db_table)
    # Role names are the code's constants, not input: written into the SQL as literals.
    roles = [
        f"EXISTS (SELECT 1 FROM {memberships} m JOIN {groups} g ON g.id = m.group_id"
        f" WHERE m.user_id = {voter} AND g.name = '{role}')"
        for role in ALL_ROLES
    ]
    # The counts from the voter's tally: one row, whatever their history.
    return f"{tallies.state_columns(voter)}, {', '.join(roles)}"


def _set_voter_state(target, row, start: int) -> None:
    """Set what ``_voter_state`` read, from ``row[start:]``, as the attributes ``progress.adopt_voter_state`` reads."""
    target.voter_votes_total, target.voter_votes_today = row[start], row[start + 1]
    for offset, role in enumerate(ALL_ROLES, start=start + 2):
        setattr(target, f"voter_is_{role}", bool(row[offset]))


@cache
def _sql(vendor: str, *, with_voter: bool, locked: bool) -> str:
    """The read's SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    voter = BATTLE.column("voter")
    parts = [BATTLE, PROMPT, ANSWER_A, ANSWER_B, VOTE] + ([VOTER] if with_voter else [])
    lock = " FOR UPDATE OF b" if locked and connection.features.has_select_for_update_of else ""
    return (
        f"SELECT {', '.join(part.select() for part in parts)}, {_voter_state(voter)}"
        f" FROM {BATTLE.table()}"
        f" JOIN {PROMPT.table()} ON {PROMPT.column('id')} = {BATTLE.column('prompt')}"
        f" JOIN {ANSWER_A.table()} ON {ANSWER_A.column('id')} = {BATTLE.column('generation_a')}"
        f" JOIN {ANSWER_B.table()} ON {ANSWER_B.column('id')} = {BATTLE.column('generation_b')}"
        f" LEFT JOIN {VOTE.table()} ON {VOTE.column('battle')} = {BATTLE.column('id')}"
        + (f" JOIN {VOTER.table()} ON {VOTER.column('id')} = {voter}" if with_voter else "")
        + f" WHERE {BATTLE.column('code')} = %s"
        + (f" AND {voter} = %s" if with_voter else "")
        + lock
    )


def _battle_from(row, *, with_voter: bool) -> Battle:
    battle = BATTLE.instance(row, 0)
    assert isinstance(battle, Battle)
    start = BATTLE.width
    battle.prompt = PROMPT.instance(row, start)  # type: ignore[assignment]
    start += PROMPT.width
    battle.generation_a = ANSWER_A.instance(row, start)  # type: ignore[assignment]
    start += ANSWER_A.width
    battle.generation_b = ANSWER_B.instance(row, start)  # type: ignore[assignment]
    start += ANSWER_B.width
    # Cached even when there is none, as select_related does: battle.vote then raises without a query.
    Battle.vote.related.set_cached_value(battle, VOTE.instance(row, start))
    start += VOTE.width
    if with_voter:
        battle.voter = VOTER.instance(row, start)  # type: ignore[assignment]
        start += VOTER.width
    _set_voter_state(battle, row, start)
    return battle


def _read(code, voter_id: int | None, *, locked: bool) -> Battle | None:
    with_voter = voter_id is not None
    params = [tallies.today_param(), prep_value(Battle, "code", code)]
    if with_voter:
        params.append(voter_id)
    rows = fetch_rows(_sql(connection.vendor, with_voter=with_voter, locked=locked), params)
    return _battle_from(rows[0], with_voter=with_voter) if rows else None


def page_battle(code, voter_id: int) -> Battle | None:
    """The voter's battle with its voter, as its page shows it; None when it is not theirs."""
    return _read(code, voter_id, locked=False)


def locked_battle(code, voter_id: int | None = None) -> Battle | None:
    """The battle, its row locked until the transaction ends (a vote's read), whoever's it is; with
    ``voter_id``, only when it is theirs, with its voter (whom the vote can then adopt as the request's user)."""
    return _read(code, voter_id, locked=True)


@cache
def _voter_sql(vendor: str) -> str:
    """The voter's SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    return (
        f"SELECT {VOTER.select()}, {_voter_state(VOTER.column('id'))}"
        f" FROM {VOTER.table()} WHERE {VOTER.column('id')} = %s"
    )


def adopt_session_voter(request) -> dict | None:
    """Read the session's user with their vote counts and roles, in one prepared statement, and adopt
    them as the request's user (``arena.request_user.adopt_user``): the progress strip's numbers, or
    None when the session names no user or does not check out (the user is then loaded as Django does).

    A new battle's page needs the user, their counts and roles; read with the user they cost no
    round trip of their own, as they do with the battle on a battle's own page.
    """
    voter_id = session_user_id(request)
    if voter_id is None:
        return None
    rows = fetch_rows(
        _voter_sql(connection.vendor),
        [tallies.today_param(), prep_value(VOTER.model, VOTER.model._meta.pk.name, voter_id)],
    )
    if not rows:
        return None
    user = VOTER.instance(rows[0], 0)
    state = SimpleNamespace()
    _set_voter_state(state, rows[0], VOTER.width)
    if not adopt_user(request, user):
        return None
    return adopt_voter_state(user, state)
