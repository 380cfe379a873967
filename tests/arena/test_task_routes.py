"""Board refits go to their own queue when one is configured; every other task stays on the default queue."""

import pytest

from arena.celery import app


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name, (), {}, None)["queue"].name


@pytest.mark.parametrize("configured", ["boards", ""])
def test_only_board_refits_go_to_the_boards_queue(settings, configured):
    settings.ARENA_BOARDS_QUEUE = configured
    default = app.conf.task_default_queue
    assert _queue_of("ratings.tasks.refit_board") == (configured or default)
    # What voters and answers wait on stays with the main worker.
    for name in (
        "ratings.tasks.recompute_leaderboard",
        "ratings.tasks.apply_online_ratings",
        "ratings.tasks.check_vote_counts",
        "battles.generation.tasks.reconcile_generations",
    ):
        assert _queue_of(name) == default, name


def test_every_routed_task_exists():
    from arena.task_routes import BOARD_TASKS

    app.loader.import_default_modules()
    assert BOARD_TASKS <= set(app.tasks)
