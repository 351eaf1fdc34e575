from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from platforms.oauth.google.provider import PrismGoogleProvider

urlpatterns = default_urlpatterns(PrismGoogleProvider)
