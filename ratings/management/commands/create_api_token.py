"""python manage.py create_api_token USER [--name NAME]"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ratings.api.auth import can_use_api, create_token


class Command(BaseCommand):
    help = (
        "Create a bearer token for the read-only JSON API (/api/) owned by USER (an eval lead or admin) "
        "and print it once: only its hash is stored. Revoke it in the admin (API tokens)."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="the owner's username")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, user, name, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: user})
        except User.DoesNotExist:
            raise CommandError(f"no user named {user!r}") from None
        if not can_use_api(owner):
            raise CommandError(f"{user!r} is not an active eval lead or admin; the API would refuse the token")
        token, raw = create_token(owner=owner, name=name[:100])
        self.stdout.write(raw)
        self.stderr.write(
            f"token {token.prefix}… created for {user}; it is shown only this once. "
            "Send it as 'Authorization: Bearer <token>'."
        )
