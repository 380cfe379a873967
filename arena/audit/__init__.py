"""The audit trail: who changed what an arena measures, or who may do what, and when (append-only).

Shared code below both apps: ``battles`` and ``ratings`` record through
``arena.audit.recording.record()`` inside the transaction of the change, so an
entry exists exactly when the change committed. Role changes are recorded at
the group-membership level (``arena.audit.roles``), whatever made them: the
user admin, a sign-in that re-syncs groups, a command. The acting user comes
from the request (``arena.audit.context``) or is named explicitly.
"""
