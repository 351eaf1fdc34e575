from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from platforms.oauth.twitch.provider import PrismTwitchProvider

urlpatterns = default_urlpatterns(PrismTwitchProvider)
