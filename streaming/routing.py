from django.urls import URLPattern, path

from streaming.consumers import StreamStatusConsumer

websocket_urlpatterns: list[URLPattern] = [path("ws/streams/", StreamStatusConsumer.as_asgi())]
