from celery import shared_task

from ratings import services


@shared_task(ignore_result=True, acks_late=True)
def recompute_leaderboard():
    snapshot = services.recompute_now()
    return snapshot.pk


@shared_task(ignore_result=True, acks_late=True)
def detect_outlier_voters():
    from ratings import quality

    return len(quality.detect_outlier_voters())
