from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from battles.demo import seed
from battles.demo.loading import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo: pools and LLMs (answers generated through the fake provider), demo logins, "
        "several weeks of demo votes, benchmark tables, fitted boards. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-users", action="store_true", help="Do not create the demo logins nor the demo vote history"
        )

    def handle(self, *args, **options):
        real_database = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
        if real_database and not options["no_users"]:
            raise CommandError(
                "Refusing to create the demo logins demo/demo and admin/admin and demo votes against a real "
                "database. Use --no-users to load only the demo pools and LLMs."
            )
        port = seed.fake_provider_port()
        try:
            result = load_demo(
                port=port,
                with_users=not options["no_users"],
                with_history=not options["no_users"],
                say=self.stdout.write,
            )
        except OSError as error:
            raise CommandError(
                f"Could not start the fake provider on 127.0.0.1:{port} ({error}). "
                "Stop whatever uses that port or set FAKE_PROVIDER_PORT."
            ) from None
        for problem in result.problems:
            self.stderr.write(f"  {problem}")
        for username, password, role in result.logins:
            self.stdout.write(f"Login: {username} / {password} ({role})")
