from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo tooling: a fake provider, demo data, ``load_demo``/``serve_demo``/``run_fake_provider``.

    A production deployment leaves it out of ``INSTALLED_APPS`` (``ARENA_DEMO_TOOLS=false``);
    nothing else in the app imports it.
    """

    name = "battles.demo"
    label = "arena_demo"
    verbose_name = "Demo tooling"
