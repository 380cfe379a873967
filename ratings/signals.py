"""Signals that ratings sends to itself, so that a lower module need not import the one above.

``votes_reflagged``: sent after the commit in which the outlier check changed which votes
are flagged (and so which votes the boards count); ``count`` is the number of votes changed.
``ratings.receivers`` queues a recomputation of the default board for it.
"""

from django.dispatch import Signal

votes_reflagged = Signal()

# Sent by a page whose board is behind the votes (or was never fitted). kwargs: kind (a
# ``ratings.scopes`` kind), params (the filter's query parameters). ``ratings.receivers`` queues
# the refit and answers True when one is queued or already pending.
refit_wanted = Signal()
