"""Imports of prompt pools, existing generations and historical votes.

The parsers (``prompts``, ``generations``, ``votes``, on the shared readers of
``arena.files``) are pure: they take a binary file object and limits and yield
one result per row, with no Django import, so that every malformed input can
be tested without a database. ``services`` stores what they yield, in one
transaction per import; ``admin_views`` is the prompt pool's upload page.
"""
