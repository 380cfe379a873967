import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from battles.demo import seed
from battles.demo.fake_provider.answers import AnswerBook
from battles.demo.fake_provider.server import FakeProviderServer


class Command(BaseCommand):
    help = "Serve the demo: the fake provider in a thread and the app on 127.0.0.1 (embedded mode)."

    # uvicorn rather than daphne's runserver: uvicorn streams a request body to the application as it
    # arrives, so arena.body_limit refuses an oversized one before it is read; daphne receives the whole
    # body and queues all of it in memory before the application sees the request.

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        if not settings.EMBEDDED:
            raise CommandError("serve_demo is for embedded mode; unset DATABASE_URL and REDIS_URL.")
        port = seed.fake_provider_port()
        if seed.repoint_demo_llms(port=port):
            self.stdout.write(f"Demo LLMs repointed at the fake provider on port {port}.")
        path = seed.answer_book_path()
        book = AnswerBook.load(path if path.exists() else seed.write_answer_book(path))
        server = FakeProviderServer(host="127.0.0.1", port=port, latency=0.3, tokens_per_second=400, book=book)
        try:
            server.start()
        except OSError as error:
            raise CommandError(f"Could not start the fake provider on 127.0.0.1:{port}: {error}") from None
        self.stdout.write(f"Fake provider on http://127.0.0.1:{port}")
        self.stdout.write(
            f"Arena on http://127.0.0.1:{options['port']}  — logins: demo/demo (voter), admin/admin (admin)"
        )
        try:
            uvicorn.run(
                "arena.asgi:application",
                host="127.0.0.1",
                port=options["port"],
                ws="wsproto",
                lifespan="off",
                server_header=False,
                log_level="warning",
            )
        finally:
            server.stop()
