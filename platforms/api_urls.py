from django.urls import path

from platforms import api

app_name = "destinations_api"
urlpatterns = [
    path("", api.collection, name="collection"),
    path("<int:pk>", api.item, name="item"),
]
