from django.dispatch import Signal

# Sent after the transaction that stored a vote has committed; kwargs: vote.
# The ratings app listens; battles never imports ratings.
vote_recorded = Signal()
