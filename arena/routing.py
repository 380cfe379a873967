"""Websocket routes, collected from the apps that own consumers."""

from battles.realtime.routing import websocket_urlpatterns as battle_routes

websocket_urlpatterns = [*battle_routes]
