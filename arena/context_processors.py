from django.conf import settings

from arena.roles import roles_of


def site(request):
    user = getattr(request, "user", None)
    roles = set()
    if user is not None and user.is_authenticated:
        roles = roles_of(user)
    return {"SITE_NAME": settings.SITE_NAME, "user_roles": roles, "EMBEDDED": settings.EMBEDDED}
