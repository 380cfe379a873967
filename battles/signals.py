from django.dispatch import Signal

# Sent after the transaction that stored a vote has committed; kwargs: vote.
# The ratings app listens; battles never imports ratings.
vote_recorded = Signal()

# Sent after a transaction that stored imported votes has committed; kwargs: count.
votes_imported = Signal()

# Sent when generated answers have been stored (committed); kwargs: generation_ids.
# The ratings app measures their style then, so that no board has to on first view.
answers_stored = Signal()
