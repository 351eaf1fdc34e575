from django.urls import path

from platforms import views

app_name = "platforms"
urlpatterns = [
    path("", views.destinations, name="destinations"),
    path("<int:pk>/toggle", views.toggle, name="toggle"),
    path("<int:pk>/disconnect", views.disconnect, name="disconnect"),
]
