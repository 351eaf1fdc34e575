from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.pricing, name="pricing"),
    path("checkout/<str:plan>/<str:interval>/", views.checkout, name="checkout"),
    path("change/<str:plan>/<str:interval>/", views.change_plan, name="change"),
    path("billing/", views.account, name="account"),
    path("billing/portal/", views.portal, name="portal"),
    path("billing/cancel/", views.cancel_at_period_end, {"cancel": True}, name="cancel"),
    path("billing/resume/", views.cancel_at_period_end, {"cancel": False}, name="resume"),
]
