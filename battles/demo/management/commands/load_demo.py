from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from battles.demo import seed
from battles.demo.fake_provider.answers import AnswerBook
from battles.demo.fake_provider.server import FakeProviderServer
from battles.generation import jobs
from battles.models import Generation


class Command(BaseCommand):
    help = "Load the demo pool and LLMs, generate their answers through the fake provider, create demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--no-users", action="store_true", help="Do not create the demo logins")

    def handle(self, *args, **options):
        real_database = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
        if real_database and not options["no_users"]:
            raise CommandError(
                "Refusing to create the demo logins demo/demo and admin/admin against a real database. "
                "Use --no-users to load only the demo pool and LLMs."
            )
        port = seed.fake_provider_port()
        pool, llms = seed.load_pool_and_llms(port=port)
        self.stdout.write(
            f"Pool {pool.name!r}: {pool.prompts.count()} prompts; LLMs: {', '.join(llm.name for llm in llms)}"
        )
        book = AnswerBook.load(seed.write_answer_book(seed.answer_book_path()))
        server = FakeProviderServer(host="127.0.0.1", port=port, latency=0.0, tokens_per_second=0, book=book)
        try:
            server.start()
        except OSError as error:
            raise CommandError(
                f"Could not start the fake provider on 127.0.0.1:{port} ({error}). "
                "Stop whatever uses that port or set FAKE_PROVIDER_PORT."
            ) from None
        try:
            versions = [llm.current_version() for llm in llms]
            queued = jobs.enqueue_generations(pool=pool, versions=versions)
            self.stdout.write(f"Generated {queued} answer(s) through the fake provider.")
        finally:
            server.stop()
        failed = Generation.objects.filter(prompt__pool=pool, status=Generation.Status.FAILED)
        for generation in failed[:10]:
            self.stderr.write(f"  failed: {generation.llm_version.label}: {generation.error}")
        done = Generation.objects.filter(prompt__pool=pool, status=Generation.Status.DONE).count()
        self.stdout.write(f"Answers ready to vote on: {done}.")
        if not options["no_users"]:
            for username, password, role in seed.create_demo_users():
                self.stdout.write(f"Login: {username} / {password} ({role})")
