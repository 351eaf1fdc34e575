from django.urls import path

from studio import views

app_name = "studio"
urlpatterns = [
    path("", views.studio_home, name="home"),
    path("key/reveal/", views.reveal_key, name="reveal_key"),
    path("key/regenerate/", views.regenerate_key, name="regenerate_key"),
    path("quality/", views.set_quality, name="quality"),
    path("test-destination/", views.add_test_destination, name="add_test_destination"),
    path("stop/", views.stop, name="stop"),
    path("preview/<int:pk>/", views.preview_page, name="preview"),
    path("preview/<int:pk>/hls/<str:name>", views.preview_file, name="preview_file"),
]
