"""The address a request came from, trusting exactly the proxies the deployment says are in front."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with ``TRUSTED_PROXY_COUNT`` proxies in front, the X-Forwarded-For entry the
    outermost trusted proxy appended.

    Each proxy appends the address it was reached from, so the client is ``count`` entries from
    the right; anything further left was written by the client and could be anything.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    return hops[-count] if len(hops) >= count else remote
