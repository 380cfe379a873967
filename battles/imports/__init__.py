"""Imports of prompt pools, existing generations and historical votes.

The parsers (``reading``, ``prompts``, ``generations``, ``votes``) and the
report (``report``) are pure: they take a binary file object and limits and
yield one result per row, with no Django import, so that every malformed
input can be tested without a database. ``services`` stores what they yield,
in one transaction per import; ``uploads`` and ``admin_views`` are the admin
upload UI.
"""
