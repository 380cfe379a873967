"""python manage.py rotate_api_keys"""

from django.core.management.base import BaseCommand, CommandError

from battles.catalog import keys, llms


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider API key under the first key of ARENA_FERNET_KEYS. "
        "To rotate: put the new Fernet key first in ARENA_FERNET_KEYS (keeping the old one after it), "
        "run this command, then remove the old key. Exit status 1 if some key could not be decrypted."
    )

    def handle(self, *args, **options):
        try:
            report = llms.rotate_stored_api_keys()
        except keys.KeyStoreError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Re-encrypted {report.rotated} stored API key(s) under the first Fernet key.")
        if report.undecryptable:
            raise CommandError(
                "No key of ARENA_FERNET_KEYS decrypts the stored API key of: "
                + ", ".join(report.undecryptable)
                + ". Add the Fernet key they were encrypted with, or set their keys again in the admin."
            )
