"""Snapshot scopes: the names under which boards are stored (``RatingSnapshot.scope``).

A vote filter names its board by a canonical scope (``BoardFilter.scope()``): ``default``
for the default board, ``votes?<sorted parameters>`` otherwise. The style-controlled board of
a vote set is a snapshot of its own, under that scope plus ``STYLE_SUFFIX``.
"""

DEFAULT_SCOPE = "default"
STYLE_SUFFIX = "|style"
STYLE_SCOPE = DEFAULT_SCOPE + STYLE_SUFFIX
