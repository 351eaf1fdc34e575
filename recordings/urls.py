from django.urls import path

from recordings import views

app_name = "recordings"
urlpatterns = [
    path("", views.recordings_list, name="list"),
    path("preference/", views.set_preference, name="preference"),
    path("<int:recording_id>/download/", views.download, name="download"),
    path("<int:recording_id>/delete/", views.delete, name="delete"),
]
