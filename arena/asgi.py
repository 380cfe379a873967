"""ASGI entry point: HTTP and websockets in embedded mode, websockets only behind the proxy.

In production gunicorn serves HTTP and daphne serves ``/ws/``; websocket
connections are authenticated by the session and refused from other origins.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from arena.body_limit import ASGIBodyLimit  # noqa: E402
from arena.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Django's handler reads a whole body before its middleware runs: the limit goes in front of it.
        "http": ASGIBodyLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
