"""Each voter's tally (votes today and in total) is kept by the vote itself and read in place of counting.

The counts must be what counting the votes gives: after votes on the real path, across a new day in
the site's time zone, on every read that shows them (the battle's page, the vote, pages without a
battle), and after votes stored in bulk once the check has run. The check repairs drift and logs it.
"""

from __future__ import annotations

import datetime
import importlib
import logging
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from battles.models import Battle, Vote, VoterTally
from battles.voting import battle_reads, progress, tallies
from battles.voting.serving import serve_battle
from battles.voting.tasks import check_voter_tallies
from battles.voting.votes import record_vote
from tests.factories import make_arena, make_user

pytestmark = pytest.mark.django_db


def _vote(voter, outcome="a") -> Vote:
    battle = serve_battle(voter=voter).battle
    assert battle is not None
    return record_vote(battle_code=battle.code, voter=voter, outcome=outcome).vote


def _counted(voter) -> tuple[int, int]:
    votes = Vote.objects.filter(voter=voter)
    return votes.count(), votes.filter(created_at__gte=tallies.start_of_today()).count()


def test_each_vote_is_counted_in_its_voters_tally_and_every_read_shows_it(voter):
    make_arena(llms=("alpha", "beta", "gamma"), prompts=6)
    other = make_user()
    for _ in range(3):
        _vote(voter)
    _vote(other)
    assert tallies.counts(voter.pk) == _counted(voter) == (3, 3)
    assert tallies.counts(other.pk) == (1, 1)
    assert progress.progress_of(voter)["total"] == 3 and progress.votes_today(voter) == 3
    battle = serve_battle(voter=voter).battle
    read = battle_reads.page_battle(battle.code, voter.pk)
    assert (read.voter_votes_total, read.voter_votes_today) == (3, 3)
    result = record_vote(battle_code=battle.code, voter=voter, outcome="b")
    assert (result.progress["total"], result.progress["today"]) == (4, 4)
    assert VoterTally.objects.get(voter=voter).total == 4


def test_a_voter_who_never_voted_has_no_tally_and_counts_nothing(voter):
    make_arena(llms=("alpha", "beta"), prompts=2)
    battle = serve_battle(voter=voter).battle
    read = battle_reads.page_battle(battle.code, voter.pk)
    assert (read.voter_votes_total, read.voter_votes_today) == (0, 0)
    assert tallies.counts(voter.pk) == (0, 0) and not VoterTally.objects.exists()


def test_a_new_day_in_the_sites_time_zone_starts_todays_count_again(voter, settings):
    settings.TIME_ZONE = "America/New_York"
    make_arena(llms=("alpha", "beta", "gamma"), prompts=6)
    _vote(voter)
    _vote(voter)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    VoterTally.objects.filter(voter=voter).update(day=yesterday)
    # The tally's day is over: today counts nothing yet, the total stays.
    assert tallies.counts(voter.pk) == (2, 0)
    battle = serve_battle(voter=voter).battle
    read = battle_reads.page_battle(battle.code, voter.pk)
    assert (read.voter_votes_total, read.voter_votes_today) == (2, 0)
    record_vote(battle_code=battle.code, voter=voter, outcome="tie")
    tally = VoterTally.objects.get(voter=voter)
    assert (tally.total, tally.today, tally.day) == (3, 1, timezone.localdate())


def test_the_daily_cap_reads_the_tally(voter, settings):
    settings.ARENA_DAILY_VOTE_CAP = 2
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    make_arena(llms=("alpha", "beta", "gamma"), prompts=6)
    _vote(voter)
    _vote(voter)
    battle = serve_battle(voter=voter).battle
    with pytest.raises(Exception, match="today's limit"):
        record_vote(battle_code=battle.code, voter=voter, outcome="a")
    # Yesterday's two votes do not count against today's cap.
    VoterTally.objects.filter(voter=voter).update(day=timezone.localdate() - datetime.timedelta(days=1))
    assert record_vote(battle_code=battle.code, voter=voter, outcome="a").progress["today"] == 1


def test_the_check_repairs_tallies_that_drifted_and_logs_it(voter, caplog):
    make_arena(llms=("alpha", "beta", "gamma"), prompts=8)
    others = [make_user() for _ in range(3)]
    for person in (voter, *others):
        _vote(person)
        _vote(person)
    VoterTally.objects.filter(voter=voter).update(total=7)  # drifted
    VoterTally.objects.filter(voter=others[0]).delete()  # lost
    VoterTally.objects.filter(voter=others[1]).update(today=0)  # today's count lost
    nobody = make_user()
    VoterTally.objects.create(voter=nobody, total=3, today=1, day=timezone.localdate())  # no votes at all
    with caplog.at_level(logging.WARNING, logger="battles.voting.tallies"):
        assert check_voter_tallies() == 4
    assert "4 of 4 differed" in caplog.text
    for person in (voter, *others, nobody):
        assert tallies.counts(person.pk) == _counted(person), person.username
    caplog.clear()
    assert tallies.check_tallies() == 0 and "differed" not in caplog.text


def test_votes_stored_in_bulk_are_counted_once_recounted(voter):
    make_arena(llms=("alpha", "beta", "gamma"), prompts=6)
    _vote(voter)
    battle = serve_battle(voter=voter).battle
    Battle.objects.filter(pk=battle.pk).update(status=Battle.Status.VOTED)
    earlier = timezone.now() - datetime.timedelta(days=3)
    Vote.objects.bulk_create(
        [
            Vote(
                battle=battle,
                voter=voter,
                outcome="a",
                version_a_id=battle.version_a_id,
                version_b_id=battle.version_b_id,
                created_at=earlier,
            )
        ]
    )
    assert tallies.counts(voter.pk) == (1, 1)  # not yet: bulk inserts pass the vote path by
    assert tallies.recount([voter.pk]) == 1
    assert tallies.counts(voter.pk) == _counted(voter) == (2, 1)
    assert tallies.recount([voter.pk]) == 0


def test_the_migration_tallies_the_votes_stored_before_it(voter):
    make_arena(llms=("alpha", "beta", "gamma"), prompts=6)
    other = make_user()
    for person in (voter, voter, other):
        _vote(person)
    Vote.objects.filter(voter=other).update(created_at=timezone.now() - datetime.timedelta(days=2))
    VoterTally.objects.all().delete()
    migration = importlib.import_module("battles.migrations.0013_voter_tally")
    migration.tally_the_votes(apps, SimpleNamespace(connection=connection))
    assert tallies.counts(voter.pk) == (2, 2) and tallies.counts(other.pk) == (1, 0)


def test_a_vote_whose_insert_fails_leaves_the_tally_as_it_was(voter):
    """The tally's upsert is part of the vote's INSERT: a second vote row for a battle (the one-vote
    constraint) fails as a whole and counts nothing."""
    from django.db import IntegrityError, transaction

    from arena.hot_reads import insert

    make_arena(llms=("alpha", "beta", "gamma"), prompts=4)
    stored = _vote(voter)
    again = Vote(
        battle_id=stored.battle_id,
        voter=voter,
        outcome="a",
        version_a_id=stored.version_a_id,
        version_b_id=stored.version_b_id,
    )
    statement, params = tallies.count_vote(voter.pk, timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(again, with_statement=statement, with_params=params)
    assert tallies.counts(voter.pk) == (1, 1) and again.pk is None
