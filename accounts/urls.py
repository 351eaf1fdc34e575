from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_overview, name="overview"),
    path("notices/<int:notice_id>/dismiss/", views.dismiss_notice, name="dismiss_notice"),
]
