from django.conf import settings
from django.core.checks import Error, register

from arena.config import oidc_problems


@register()
def check_single_sign_on(app_configs, **kwargs):
    problems = oidc_problems(
        issuer=settings.OIDC_ISSUER,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET,
        scopes=settings.OIDC_SCOPES,
        password_login=settings.PASSWORD_LOGIN,
    )
    return [Error(message, id=check_id) for check_id, message in problems]
