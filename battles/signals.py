from django.dispatch import Signal

# Sent after the transaction that stored a vote has committed; kwargs: vote.
# The ratings app listens; battles never imports ratings.
vote_recorded = Signal()

# Sent after a transaction that stored imported votes has committed; kwargs: count.
votes_imported = Signal()
