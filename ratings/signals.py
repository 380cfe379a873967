"""Signals that ratings sends to itself, so that a lower module need not import the one above.

``votes_reflagged``: sent after the commit in which the outlier check changed which votes
are flagged (and so which votes the boards count); ``count`` is the number of votes changed.
``ratings.receivers`` queues a recomputation of the default board for it.
"""

from django.dispatch import Signal

votes_reflagged = Signal()
