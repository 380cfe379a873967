"""Live battles, live: tell a voter's open page that its battle changed.

The page's consumer re-renders the panel from the database, so the message
carries nothing but "look again"; before the vote nothing in it can name a
model.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def group_name(battle_code) -> str:
    return f"live-{battle_code}"


def on_live_battle_changed(sender, battle_code, **kwargs) -> None:
    """Receiver of ``live_battle_changed`` (sent after commit)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(battle_code), {"type": "live.update"})
    except Exception:
        # The page also renders from the database on load and reconnect.
        logger.exception("could not notify live battle %s", battle_code)
