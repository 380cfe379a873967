"""Snapshot scopes: the names under which boards are stored (``RatingSnapshot.scope``).

A vote filter names its board by a canonical scope (``BoardFilter.scope()``): ``default``
for the default board, ``votes?<sorted parameters>`` otherwise. The style-controlled board of
a vote set is a snapshot of its own, under that scope plus ``STYLE_SUFFIX``.
"""

DEFAULT_SCOPE = "default"
STYLE_SUFFIX = "|style"
STYLE_SCOPE = DEFAULT_SCOPE + STYLE_SUFFIX
DECISION_SUFFIX = "|decision"
# What a board page shows, each fitted by one task: a Bradley–Terry board, a style-controlled
# board, or the decision page (the board without its category and one board per category).
BOARD = "board"
STYLE = "style"
DECISION = "decision"
HISTORY = "history"  # the rating over time: kept in the cache, not as a snapshot
HISTORY_SUFFIX = "|history"
KINDS = (BOARD, STYLE, DECISION, HISTORY)
SUFFIXES = {BOARD: "", STYLE: STYLE_SUFFIX, DECISION: DECISION_SUFFIX}


def kind_of(scope: str) -> str:
    """The kind of board a snapshot scope names."""
    for kind in (STYLE, DECISION):
        if scope.endswith(SUFFIXES[kind]):
            return kind
    return BOARD
