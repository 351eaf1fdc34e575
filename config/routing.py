"""Every WebSocket route, gathered from the apps that own them."""

from streaming.routing import websocket_urlpatterns as streaming_routes

websocket_urlpatterns = [*streaming_routes]
