"""The in-memory channel layer of embedded mode, safe to send to from the task threads.

Channels' in-memory layer keeps asyncio queues that belong to the event loop of the server,
where the consumers wait. A task running on the embedded thread pool (``arena.embedded_tasks``)
sends from an event loop of its own: putting into a queue of another loop from another thread
does not wake the consumer (asyncio is not thread-safe). This layer hands such sends to the
server's loop, so a live battle's answers and a job's progress reach the browser at once.
"""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    async def _at_home(self, coroutine_function, *args):
        """Run ``coroutine_function(*args)`` on the loop the consumers wait on."""
        home, here = self._home_loop, asyncio.get_running_loop()
        if home is None or home is here or home.is_closed() or not home.is_running():
            return await coroutine_function(*args)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine_function(*args), home))

    async def receive(self, channel):
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel, message):
        await self._at_home(super().send, channel, message)

    async def group_send(self, group, message):
        await self._at_home(super().group_send, group, message)

    async def group_add(self, group, channel):
        await self._at_home(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        await self._at_home(super().group_discard, group, channel)
