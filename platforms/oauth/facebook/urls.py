from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from platforms.oauth.facebook.provider import PrismFacebookProvider

urlpatterns = default_urlpatterns(PrismFacebookProvider)
