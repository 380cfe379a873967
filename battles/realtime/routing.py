from django.urls import path

from battles.realtime import consumers

websocket_urlpatterns = [
    path("ws/live/<uuid:code>/", consumers.LiveBattleConsumer.as_asgi()),
    path("ws/jobs/<uuid:code>/", consumers.JobProgressConsumer.as_asgi()),
]
