"""The battle's hand-written read (battles.voting.battle_reads over arena.hot_reads) against the ORM's.

It replaces a select_related query on the two hottest requests (a battle's page and the vote), so
it must give the same instances: every field converted as the ORM converts it (JSON, UUIDs, aware
datetimes), a missing vote cached as missing, the voter's counts and roles, and the row lock.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from battles.models import Battle, Vote
from battles.voting import battle_reads, progress
from battles.voting.serving import serve_battle
from tests.factories import make_arena, make_user


def _same_fields(read: Model, expected: Model) -> None:
    for field in type(expected)._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
        assert type(getattr(read, field.attname)) is type(getattr(expected, field.attname)), field.name


def _open_battle(voter) -> Battle:
    make_arena(llms=("alpha", "beta", "gamma"), prompts=4)
    battle = serve_battle(voter=voter).battle
    assert battle is not None
    return battle


@pytest.mark.django_db
def test_an_open_battles_page_read_matches_the_orm_and_reads_nothing_more(voter):
    battle = _open_battle(voter)
    Battle.objects.filter(pk=battle.pk).update(leaked_terms=["gpt", "o'brien"], identity_leak=True)
    read = battle_reads.page_battle(battle.code, voter.pk)
    expected = Battle.objects.select_related("prompt", "generation_a", "generation_b", "voter").get(pk=battle.pk)
    assert read is not None
    _same_fields(read, expected)
    assert read.leaked_terms == ["gpt", "o'brien"]
    for relation in ("prompt", "generation_a", "generation_b", "voter"):
        _same_fields(getattr(read, relation), getattr(expected, relation))
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(Vote.DoesNotExist):
            read.vote  # noqa: B018 - the access is the test
        assert read.voter.pk == voter.pk and read.prompt.text == expected.prompt.text
    assert len(queries) == 0


@pytest.mark.django_db
def test_a_voted_battles_read_carries_its_vote_with_its_json_fields(voter):
    battle = _open_battle(voter)
    Battle.objects.filter(pk=battle.pk).update(status=Battle.Status.VOTED)
    vote = Vote.objects.create(
        battle=battle,
        voter=voter,
        outcome="tie",
        version_a_id=battle.version_a_id,
        version_b_id=battle.version_b_id,
        time_to_vote_ms=1234,
        reasons_a=["clear", "concise"],
        reasons_b=[],
        comment="«quoted» — fine",
        flagged=True,
        flags=["too_fast"],
    )
    read = battle_reads.page_battle(battle.code, voter.pk)
    assert read is not None
    _same_fields(read.vote, Vote.objects.get(pk=vote.pk))
    assert read.vote.reasons_a == ["clear", "concise"] and read.vote.flags == ["too_fast"]


@pytest.mark.django_db
def test_the_voters_counts_and_roles_come_with_the_read(voter):
    battle = _open_battle(voter)
    lead = make_user(role="eval_lead")
    voter.groups.add(*lead.groups.all())
    read = battle_reads.page_battle(battle.code, voter.pk)
    assert read is not None
    assert read.voter_votes_total == 0 and read.voter_votes_today == 0
    assert (read.voter_is_voter, read.voter_is_eval_lead, read.voter_is_admin) == (True, True, False)
    counts = progress.adopt_voter_state(voter, read, new_votes=1)
    assert counts["today"] == 1 and counts["total"] == 1


@pytest.mark.django_db
def test_another_voters_battle_or_an_unknown_code_reads_nothing(voter):
    battle = _open_battle(voter)
    other = make_user()
    assert battle_reads.page_battle(battle.code, other.pk) is None
    assert battle_reads.page_battle(uuid.uuid4(), voter.pk) is None
    assert battle_reads.locked_battle(uuid.uuid4()) is None


@pytest.mark.django_db(transaction=True)
def test_the_votes_read_locks_the_battles_row_until_the_transaction_ends(voter):
    if not connection.features.has_select_for_update_nowait:
        pytest.skip("row locks are a Postgres matter")
    battle = _open_battle(voter)
    outcome: list[str] = []

    def try_to_lock() -> None:
        try:
            with transaction.atomic():
                Battle.objects.select_for_update(nowait=True).get(pk=battle.pk)
            outcome.append("locked")
        except DatabaseError:
            outcome.append("refused")
        finally:
            connections.close_all()

    with transaction.atomic():
        assert battle_reads.locked_battle(battle.code) is not None
        other = threading.Thread(target=try_to_lock)
        other.start()
        other.join()
    assert outcome == ["refused"]
    after = threading.Thread(target=try_to_lock)
    after.start()
    after.join()
    assert outcome == ["refused", "locked"]


@pytest.mark.django_db
def test_postgres_prepares_the_read_on_its_connection(voter, settings):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are a Postgres matter")
    assert settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold") is not None
    battle = _open_battle(voter)
    for _ in range(5):
        battle_reads.page_battle(battle.code, voter.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("battles_battle" in statement and "battles_vote" in statement for statement in prepared)
