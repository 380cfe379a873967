"""The generation pipeline: jobs, Celery tasks, the runner (claim → call → store by compare-and-set),
per-LLM limits, the circuit breaker. It never imports voting, job pages or websocket code: it sends
``generation_finished``, ``job_changed`` and ``breaker_reset`` (``battles.signals``).
"""
