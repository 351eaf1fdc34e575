from django.urls import URLPattern

app_name = "streaming"
urlpatterns: list[URLPattern] = []
