from django.urls import path

from streaming import views

app_name = "streaming"
urlpatterns = [
    path("rtmp/on_publish/", views.on_publish, name="on_publish"),
    path("rtmp/on_publish_done/", views.on_publish_done, name="on_publish_done"),
    path("rtmp/on_update/", views.on_update, name="on_update"),
    path("rtmp/on_play/", views.on_play, name="on_play"),
    path("rtmp/rendition/on_publish/", views.on_rendition_publish, name="on_rendition_publish"),
    path("rtmp/rendition/on_play/", views.on_rendition_play, name="on_rendition_play"),
]
