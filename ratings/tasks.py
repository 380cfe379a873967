from celery import shared_task

from ratings import services


@shared_task(ignore_result=True, acks_late=True)
def recompute_leaderboard():
    snapshot = services.recompute_now()
    # The style-controlled default board too, so that no visitor pays its refit (tens of
    # seconds at a million votes); filtered boards are still fitted when first asked for.
    from ratings import boards
    from ratings.filters import BoardFilter

    boards.style_snapshot(BoardFilter())
    return snapshot.pk


@shared_task(ignore_result=True, acks_late=True)
def detect_outlier_voters():
    from ratings import quality

    return len(quality.detect_outlier_voters())
