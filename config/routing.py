"""Every WebSocket route, gathered from the apps that own them."""

from streaming.routing import websocket_urlpatterns as streaming_routes
from studio.routing import websocket_urlpatterns as studio_routes

websocket_urlpatterns = [*streaming_routes, *studio_routes]
