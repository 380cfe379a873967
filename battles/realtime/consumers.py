"""Websocket consumers are transport: authenticate, check access, forward server-rendered HTML.

Votes never travel over the socket; they are ordinary CSRF-protected POSTs.
"""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from battles.generation.jobs import can_manage_jobs
from battles.models import Battle, GenerationJob
from battles.realtime import job_pushes, live_pushes
from battles.voting import live
from battles.voting.pages import reveal_context, vote_form_context


class LiveBattleConsumer(AsyncWebsocketConsumer):
    """Sends the live panel of one battle to the voter it belongs to.

    The URL carries only the battle's opaque code; every message is rendered
    from the database, so a reconnect simply shows the current state.
    """

    async def connect(self):
        self.code = self.scope["url_route"]["kwargs"]["code"]
        self.group = live_pushes.group_name(self.code)
        html = await self._panel()
        if html is None:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=html)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # The only client message is a request to re-send the current state.
        await self._forward()

    async def live_update(self, event):
        await self._forward()

    async def _forward(self):
        html = await self._panel()
        if html is None:
            await self.close(code=4403)
            return
        await self.send(text_data=html)

    @database_sync_to_async
    def _panel(self):
        """The rendered panel, or None when this user may not see the battle."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        battle = Battle.objects.filter(code=self.code, live=True, voter_id=user.pk).first()
        if battle is None:
            return None
        if battle.status == Battle.Status.VOTED:
            # Names only ever travel after the vote is stored.
            return render_to_string("battles/_reveal.html", reveal_context(battle.vote))
        return render_to_string("battles/_live_panel.html", {**vote_form_context(), **live.battle_view(battle)})


class JobProgressConsumer(AsyncWebsocketConsumer):
    """Sends the progress of one generation job to admins watching its page.

    Workers send the rendered fragment to the job's group (throttled, see
    ``battles.realtime.job_pushes``). On connect, on any client message and
    every ``REFRESH_SECONDS`` while the job runs, the fragment is rendered here
    from the database, so a reconnect shows the current state and an update
    the workers' throttle skipped still arrives.
    """

    REFRESH_SECONDS = 5.0

    async def connect(self):
        self.code = self.scope["url_route"]["kwargs"]["code"]
        state = await self._state()
        if state is None:
            await self.close(code=4403)
            return
        self.group = job_pushes.group_name(self.code)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=state[0])
        if state[1]:
            self.refresher = asyncio.ensure_future(self._refresh())

    async def disconnect(self, code):
        if getattr(self, "refresher", None) is not None:
            self.refresher.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        state = await self._state()
        if state is None:
            await self.close(code=4403)
            return
        await self.send(text_data=state[0])

    async def job_progress(self, event):
        await self.send(text_data=event["html"])

    async def _refresh(self):
        while True:
            await asyncio.sleep(self.REFRESH_SECONDS)
            state = await self._state()
            if state is None:
                await self.close(code=4403)
                return
            await self.send(text_data=state[0])
            if not state[1]:
                return

    @database_sync_to_async
    def _state(self):
        """(rendered progress, whether the job is running), or None when this user may not watch it."""
        if not can_manage_jobs(self.scope.get("user")):
            return None
        job = GenerationJob.objects.filter(code=self.code).first()
        if job is None:
            return None
        return job_pushes.render_progress(job), job.status == GenerationJob.Status.RUNNING
