from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.pricing, name="pricing"),
    path("checkout/<str:plan>/<str:interval>/", views.checkout, name="checkout"),
    path("billing/", views.account, name="account"),
    path("billing/portal/", views.portal, name="portal"),
]
