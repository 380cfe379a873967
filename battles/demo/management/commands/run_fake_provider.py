"""``python manage.py run_fake_provider`` — serve the fake model provider.

The same options as ``python -m battles.demo.fake_provider``; runs until Ctrl-C or SIGTERM.
"""

from django.core.management.base import BaseCommand, CommandError

from battles.demo.fake_provider.cli import add_cli_arguments, serve_from_options


class Command(BaseCommand):
    help = "Serve the fake model provider (OpenAI-compatible and Anthropic wire formats) for the demo and tests."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        add_cli_arguments(parser)

    def handle(self, *args, **options):
        try:
            serve_from_options(options, out=self.stdout)
        except (OSError, ValueError) as exc:
            raise CommandError(f"fake provider: {exc}") from exc
