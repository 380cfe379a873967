"""Demo tooling: a fake provider, demo data and the demo commands; its own app (``battles.demo``), which
a production deployment leaves out (``ARENA_DEMO_TOOLS=false``).
"""
