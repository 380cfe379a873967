"""Channel-layer sends with a bound on their time.

channels-redis has no timeout of its own on a send: against a hung Redis a push would hold the
request (or the worker) that made it. Pushes are hints (every page re-renders from the database
on load and on reconnect), so a send that takes longer than ``ARENA_PUSH_TIMEOUT`` is dropped.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings


async def _bounded_group_send(layer, group: str, message: dict, timeout: float) -> None:
    await asyncio.wait_for(layer.group_send(group, message), timeout)


def send_to_group(group: str, message: dict) -> None:
    """Send ``message`` to ``group``; raises TimeoutError past ``ARENA_PUSH_TIMEOUT`` seconds,
    or the layer's error. Does nothing without a channel layer."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(_bounded_group_send)(layer, group, message, settings.ARENA_PUSH_TIMEOUT)
