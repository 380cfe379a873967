"""Live battles, live: tell a voter's open page that its battle changed.

The page's consumer re-renders the panel from the database, so the message
carries nothing but "look again"; before the vote nothing in it can name a
model.
"""

from __future__ import annotations

import logging

from battles.realtime.sends import send_to_group

logger = logging.getLogger(__name__)


def group_name(battle_code) -> str:
    return f"live-{battle_code}"


def on_live_battle_changed(sender, battle_code, **kwargs) -> None:
    """Receiver of ``live_battle_changed`` (sent after commit)."""
    try:
        send_to_group(group_name(battle_code), {"type": "live.update"})
    except Exception:
        # The page also renders from the database on load and reconnect.
        logger.exception("could not notify live battle %s", battle_code)
