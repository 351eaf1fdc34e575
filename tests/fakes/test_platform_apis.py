"""The platform fakes speak the platforms' OAuth and API JSON. No Django: plain ``requests`` over loopback.

Run alone with ``pytest tests/fakes/test_platform_apis.py -p no:django``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import jwt
import pytest
import requests
from cryptography import x509

from tests.fakes import facebook_api, google_api, twitch_api
from tests.fakes.facebook_api import FakeFacebook
from tests.fakes.google_api import FakeGoogle
from tests.fakes.platform_apis import PlatformFakes, running_platform_fakes
from tests.fakes.twitch_api import FakeTwitch

CALLBACK = "http://testserver/accounts/callback/"
YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"
TWITCH_SCOPES = "user:read:email channel:read:stream_key channel:manage:broadcast"


@pytest.fixture(scope="module")
def fakes() -> Iterator[PlatformFakes]:
    with running_platform_fakes() as started:
        yield started


@pytest.fixture
def google(fakes: PlatformFakes) -> FakeGoogle:
    fakes.google.reset()
    return fakes.google


@pytest.fixture
def twitch(fakes: PlatformFakes) -> FakeTwitch:
    fakes.twitch.reset()
    return fakes.twitch


@pytest.fixture
def facebook(fakes: PlatformFakes) -> FakeFacebook:
    fakes.facebook.reset()
    return fakes.facebook


def follow_authorize(url: str, **params: str) -> dict[str, str]:
    """GET an authorize endpoint; return the query of the 302 back to the callback."""
    response = requests.get(url, params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert location._replace(query="", fragment="").geturl() == CALLBACK
    return dict(urllib.parse.parse_qsl(location.query))


# -- Google ----------------------------------------------------------------------------------------------


def google_login(google: FakeGoogle, **extra: str) -> dict[str, str]:
    redirect = follow_authorize(
        google.authorize_url,
        client_id=google_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope=f"profile email {YOUTUBE_SCOPE}",
        state="st4te",
        **extra,
    )
    assert redirect["state"] == "st4te"
    response = requests.post(
        google.token_url,
        data={
            "grant_type": "authorization_code",
            "code": redirect["code"],
            "redirect_uri": CALLBACK,
            "client_id": google_api.CLIENT_ID,
            "client_secret": google_api.CLIENT_SECRET,
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def youtube(google: FakeGoogle, method: str, path: str, token: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, google.youtube_url + path, headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_google_code_flow_gives_offline_tokens_and_a_signed_id_token(google: FakeGoogle) -> None:
    tokens = google_login(google, access_type="offline", nonce="n0nce")

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3599
    assert tokens["refresh_token"].startswith("1//")
    assert set(tokens["scope"].split()) == {
        "openid",
        YOUTUBE_SCOPE,
        "https://www.googleapis.com/auth/userinfo.profile",
        "https://www.googleapis.com/auth/userinfo.email",
    }
    # The id_token verifies against the certificate allauth would fetch from CERTS_URL.
    header = jwt.get_unverified_header(tokens["id_token"])
    pem = requests.get(google.certs_url, timeout=5).json()[header["kid"]]
    public_key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    claims = jwt.decode(
        tokens["id_token"],
        public_key,  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=google_api.CLIENT_ID,
        issuer="https://accounts.google.com",
    )
    assert claims["sub"] == google.user.sub
    assert claims["email"] == "streamer@example.com"
    assert claims["email_verified"] is True
    assert claims["nonce"] == "n0nce"
    jwks = requests.get(google.url + "/oauth2/v3/certs", timeout=5).json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]

    info = requests.get(
        google.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5
    ).json()
    assert info == {
        "id": google.user.sub,
        "email": "streamer@example.com",
        "verified_email": True,
        "name": "Sam Streamer",
        "given_name": "Sam",
        "family_name": "Streamer",
        "picture": google.user.picture,
        "locale": "en",
    }


def test_google_gives_no_refresh_token_without_access_type_offline(google: FakeGoogle) -> None:
    assert "refresh_token" not in google_login(google)


def test_google_withholds_a_second_refresh_token_unless_prompt_is_consent(google: FakeGoogle) -> None:
    assert "refresh_token" in google_login(google, access_type="offline")
    assert "refresh_token" not in google_login(google, access_type="offline")
    assert "refresh_token" in google_login(google, access_type="offline", prompt="consent")


def test_google_code_is_single_use(google: FakeGoogle) -> None:
    redirect = follow_authorize(
        google.authorize_url,
        client_id=google_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope="openid",
        state="s",
    )
    form = {
        "grant_type": "authorization_code",
        "code": redirect["code"],
        "redirect_uri": CALLBACK,
        "client_id": google_api.CLIENT_ID,
        "client_secret": google_api.CLIENT_SECRET,
    }
    assert requests.post(google.token_url, data=form, timeout=5).status_code == 200
    again = requests.post(google.token_url, data=form, timeout=5)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_google_denied_consent_redirects_with_access_denied(google: FakeGoogle) -> None:
    google.deny_consent = True
    redirect = follow_authorize(
        google.authorize_url,
        client_id=google_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope="openid",
        state="s",
    )
    assert redirect == {"error": "access_denied", "state": "s"}


def test_google_refuses_an_unregistered_redirect_uri(google: FakeGoogle) -> None:
    google.register_client(google_api.CLIENT_ID, google_api.CLIENT_SECRET, ("https://prism.example/cb/",))
    response = requests.get(
        google.authorize_url,
        params={
            "client_id": google_api.CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "redirect_uri_mismatch"


def test_google_refresh_gives_a_new_access_token_until_revoked(google: FakeGoogle) -> None:
    tokens = google_login(google, access_type="offline")
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": google_api.CLIENT_ID,
        "client_secret": google_api.CLIENT_SECRET,
    }
    fresh = requests.post(google.token_url, data=refresh, timeout=5).json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["expires_in"] == 3599
    assert "refresh_token" not in fresh

    google.revoke_refresh_token()
    failed = requests.post(google.token_url, data=refresh, timeout=5)
    assert failed.status_code == 400
    assert failed.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_youtube_answers_401_with_googles_error_once_the_token_expired(google: FakeGoogle) -> None:
    token = google_login(google)["access_token"]
    assert youtube(google, "GET", "/liveStreams", token, params={"part": "id", "mine": "true"}).ok

    google.expire_access_token(token)
    response = youtube(google, "GET", "/liveStreams", token, params={"part": "id", "mine": "true"})

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["errors"][0]["reason"] == "authError"
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_youtube_stream_and_broadcast_go_live_and_complete(google: FakeGoogle) -> None:
    google.ingestion_address = "rtmp://127.0.0.1:19350/live2"
    token = google_login(google)["access_token"]

    stream = youtube(
        google,
        "POST",
        "/liveStreams",
        token,
        params={"part": "snippet,cdn,contentDetails,status"},
        json={
            "snippet": {"title": "Prism"},
            "cdn": {"ingestionType": "rtmp", "resolution": "1080p", "frameRate": "60fps"},
        },
    ).json()
    ingestion = stream["cdn"]["ingestionInfo"]
    assert stream["kind"] == "youtube#liveStream"
    assert ingestion["ingestionAddress"] == "rtmp://127.0.0.1:19350/live2"
    assert ingestion["rtmpsIngestionAddress"] == "rtmps://a.rtmps.youtube.com/live2"
    assert ingestion["backupIngestionAddress"] == "rtmp://b.rtmp.youtube.com/live2?backup=1"
    assert len(ingestion["streamName"]) == 24
    assert stream["status"]["streamStatus"] == "ready"

    broadcast = youtube(
        google,
        "POST",
        "/liveBroadcasts",
        token,
        params={"part": "snippet,status,contentDetails"},
        json={
            "snippet": {"title": "Prism live", "scheduledStartTime": "2026-11-23T20:00:00Z"},
            "status": {"privacyStatus": "unlisted"},
            "contentDetails": {"enableAutoStart": False, "enableAutoStop": False},
        },
    ).json()
    assert broadcast["status"]["lifeCycleStatus"] == "created"
    assert broadcast["contentDetails"]["monitorStream"]["enableMonitorStream"] is True

    bound = youtube(
        google,
        "POST",
        "/liveBroadcasts/bind",
        token,
        params={"id": broadcast["id"], "streamId": stream["id"], "part": "id,contentDetails,status"},
    ).json()
    assert bound["contentDetails"]["boundStreamId"] == stream["id"]
    assert bound["status"]["lifeCycleStatus"] == "ready"

    def transition(status: str) -> requests.Response:
        return youtube(
            google,
            "POST",
            "/liveBroadcasts/transition",
            token,
            params={"broadcastStatus": status, "id": broadcast["id"], "part": "status"},
        )

    inactive = transition("testing")
    assert inactive.status_code == 403
    assert inactive.json()["error"]["errors"][0]["reason"] == "errorStreamInactive"

    google.set_stream_active(stream["id"])
    listed = youtube(
        google, "GET", "/liveStreams", token, params={"part": "status", "id": stream["id"]}
    ).json()
    assert listed["items"][0]["status"]["streamStatus"] == "active"
    assert transition("live").json()["error"]["errors"][0]["reason"] == "invalidTransition"  # test first
    assert transition("testing").json()["status"]["lifeCycleStatus"] == "testing"
    assert transition("live").json()["status"]["lifeCycleStatus"] == "live"

    google.set_viewers(broadcast["id"], 42)
    video_params = {"part": "liveStreamingDetails", "id": broadcast["id"]}
    video = youtube(google, "GET", "/videos", token, params=video_params).json()["items"][0]
    assert video["liveStreamingDetails"]["concurrentViewers"] == "42"
    assert "actualStartTime" in video["liveStreamingDetails"]

    assert transition("complete").json()["status"]["lifeCycleStatus"] == "complete"
    ended = youtube(google, "GET", "/videos", token, params=video_params).json()["items"][0]
    assert "concurrentViewers" not in ended["liveStreamingDetails"]
    assert "actualEndTime" in ended["liveStreamingDetails"]
    assert transition("complete").json()["error"]["errors"][0]["reason"] == "redundantTransition"


def test_youtube_refuses_a_channel_not_enabled_for_live(google: FakeGoogle) -> None:
    google.user.live_streaming_enabled = False
    token = google_login(google)["access_token"]
    response = youtube(
        google,
        "POST",
        "/liveBroadcasts",
        token,
        params={"part": "snippet,status"},
        json={"snippet": {"title": "t", "scheduledStartTime": "2026-11-23T20:00:00Z"}},
    )
    assert response.status_code == 403
    assert response.json()["error"]["errors"][0]["reason"] == "liveStreamingNotEnabled"


def test_youtube_refuses_calls_once_the_quota_is_spent(google: FakeGoogle) -> None:
    token = google_login(google)["access_token"]
    google.exhaust_quota()
    response = youtube(google, "GET", "/liveBroadcasts", token, params={"part": "id", "mine": "true"})
    assert response.status_code == 403
    assert response.json()["error"]["errors"][0] | {"message": ""} == {
        "message": "",
        "domain": "youtube.quota",
        "reason": "quotaExceeded",
    }


def test_youtube_refuses_a_token_without_a_youtube_scope(google: FakeGoogle) -> None:
    redirect = follow_authorize(
        google.authorize_url,
        client_id=google_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope="openid email",
        state="s",
    )
    token = requests.post(
        google.token_url,
        data={
            "grant_type": "authorization_code",
            "code": redirect["code"],
            "redirect_uri": CALLBACK,
            "client_id": google_api.CLIENT_ID,
            "client_secret": google_api.CLIENT_SECRET,
        },
        timeout=5,
    ).json()["access_token"]
    response = youtube(google, "GET", "/liveStreams", token, params={"part": "id", "mine": "true"})
    assert response.status_code == 403
    assert response.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


# -- Twitch ----------------------------------------------------------------------------------------------


def twitch_login(twitch: FakeTwitch, scope: str = TWITCH_SCOPES) -> dict[str, object]:
    redirect = follow_authorize(
        twitch.authorize_url,
        client_id=twitch_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope=scope,
        state="tw",
    )
    assert redirect["state"] == "tw"
    assert redirect["scope"] == scope
    response = requests.post(
        twitch.token_url,
        data={
            "client_id": twitch_api.CLIENT_ID,
            "client_secret": twitch_api.CLIENT_SECRET,
            "code": redirect["code"],
            "grant_type": "authorization_code",
            "redirect_uri": CALLBACK,
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def helix(twitch: FakeTwitch, method: str, path: str, token: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Client-Id": twitch_api.CLIENT_ID}
    return requests.request(method, twitch.helix_url + path, headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


def refresh_twitch(twitch: FakeTwitch, refresh_token: str) -> requests.Response:
    return requests.post(
        twitch.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": twitch_api.CLIENT_ID,
            "client_secret": twitch_api.CLIENT_SECRET,
        },
        timeout=5,
    )


def test_twitch_code_flow_gives_tokens_the_current_user_and_a_valid_token(twitch: FakeTwitch) -> None:
    tokens = twitch_login(twitch)
    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == TWITCH_SCOPES.split()
    assert tokens["expires_in"] == 14_400
    token = str(tokens["access_token"])

    users = helix(twitch, "GET", "/users", token).json()["data"]
    assert [(u["id"], u["login"], u["display_name"], u["email"]) for u in users] == [
        ("141981764", "samstreams", "SamStreams", "streamer@example.com")
    ]
    validated = requests.get(
        twitch.url + "/oauth2/validate", headers={"Authorization": f"OAuth {token}"}, timeout=5
    ).json()
    assert validated["user_id"] == "141981764"
    assert validated["login"] == "samstreams"
    assert validated["client_id"] == twitch_api.CLIENT_ID
    assert 0 < validated["expires_in"] <= 14_400


def test_twitch_denied_consent_redirects_with_access_denied(twitch: FakeTwitch) -> None:
    twitch.deny_consent = True
    redirect = follow_authorize(
        twitch.authorize_url,
        client_id=twitch_api.CLIENT_ID,
        redirect_uri=CALLBACK,
        response_type="code",
        scope="user:read:email",
        state="s",
    )
    assert redirect["error"] == "access_denied"
    assert redirect["state"] == "s"


def test_twitch_refresh_keeps_the_refresh_token_unless_rotation_is_on(twitch: FakeTwitch) -> None:
    first = str(twitch_login(twitch)["refresh_token"])
    kept = refresh_twitch(twitch, first).json()
    assert kept["refresh_token"] == first

    twitch.rotate_refresh_tokens = True
    rotated = refresh_twitch(twitch, first).json()
    assert rotated["refresh_token"] != first
    assert rotated["scope"] == TWITCH_SCOPES.split()

    stale = refresh_twitch(twitch, first)
    assert stale.status_code == 400
    assert stale.json() == {"status": 400, "message": "Invalid refresh token"}
    assert refresh_twitch(twitch, rotated["refresh_token"]).ok


def test_twitch_refresh_fails_once_revoked(twitch: FakeTwitch) -> None:
    refresh = str(twitch_login(twitch)["refresh_token"])
    twitch.revoke_refresh_token()
    assert refresh_twitch(twitch, refresh).json() == {"status": 400, "message": "Invalid refresh token"}


def test_helix_wants_client_id_and_a_live_token(twitch: FakeTwitch) -> None:
    token = str(twitch_login(twitch)["access_token"])
    no_client = requests.get(
        twitch.helix_url + "/users", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert no_client.status_code == 401
    assert no_client.json()["error"] == "Unauthorized"

    twitch.expire_access_token(token)
    expired = helix(twitch, "GET", "/users", token)
    assert expired.status_code == 401
    assert expired.json() == {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}
    assert requests.get(
        twitch.url + "/oauth2/validate", headers={"Authorization": f"OAuth {token}"}, timeout=5
    ).json() == {"status": 401, "message": "invalid access token"}


def test_twitch_stream_key_and_ingest_template_make_a_push_url(twitch: FakeTwitch) -> None:
    twitch.ingest_host = "127.0.0.1:19351"
    token = str(twitch_login(twitch)["access_token"])

    key = helix(twitch, "GET", "/streams/key", token, params={"broadcaster_id": twitch.user.id}).json()
    assert key == {"data": [{"stream_key": twitch.user.stream_key}]}
    assert twitch.user.stream_key.startswith("live_")
    ingest = requests.get(twitch.ingests_url, timeout=5).json()["ingests"][0]
    assert ingest["url_template"] == "rtmp://127.0.0.1:19351/app/{stream_key}"
    assert ingest["url_template_secure"].startswith("rtmps://")

    other = helix(twitch, "GET", "/streams/key", token, params={"broadcaster_id": "1"})
    assert other.status_code == 401


def test_twitch_stream_key_needs_its_scope(twitch: FakeTwitch) -> None:
    token = str(twitch_login(twitch, scope="user:read:email")["access_token"])
    response = helix(twitch, "GET", "/streams/key", token, params={"broadcaster_id": twitch.user.id})
    assert response.status_code == 401
    assert response.json()["message"] == "Missing scope: channel:read:stream_key"


def test_twitch_reports_viewers_only_while_live_and_takes_a_title(twitch: FakeTwitch) -> None:
    token = str(twitch_login(twitch)["access_token"])
    query = {"user_id": twitch.user.id}
    assert helix(twitch, "GET", "/streams", token, params=query).json() == {"data": [], "pagination": {}}

    twitch.set_live(viewers=17)
    stream = helix(twitch, "GET", "/streams", token, params=query).json()["data"][0]
    assert stream["viewer_count"] == 17
    assert stream["type"] == "live"
    assert stream["user_id"] == twitch.user.id

    patched = helix(
        twitch,
        "PATCH",
        "/channels",
        token,
        params={"broadcaster_id": twitch.user.id},
        json={"title": "Prism test"},
    )
    assert patched.status_code == 204
    channel = helix(twitch, "GET", "/channels", token, params={"broadcaster_id": twitch.user.id}).json()
    assert channel["data"][0]["title"] == "Prism test"

    twitch.set_offline()
    assert helix(twitch, "GET", "/streams", token, params=query).json()["data"] == []


# -- Facebook --------------------------------------------------------------------------------------------


def facebook_login(facebook: FakeFacebook, scope: str = "email,publish_video") -> dict[str, object]:
    redirect = follow_authorize(
        facebook.dialog_url,
        client_id=facebook_api.APP_ID,
        redirect_uri=CALLBACK,
        scope=scope,
        state="fb",
        response_type="code",
    )
    assert redirect["state"] == "fb"
    response = requests.get(
        facebook.graph_url + "/oauth/access_token",
        params={
            "client_id": facebook_api.APP_ID,
            "client_secret": facebook_api.APP_SECRET,
            "redirect_uri": CALLBACK,
            "code": redirect["code"],
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def graph(facebook: FakeFacebook, method: str, path: str, token: str, **params: str) -> requests.Response:
    params = {
        "access_token": token,
        "appsecret_proof": facebook_api.appsecret_proof(facebook_api.APP_SECRET, token),
        **params,
    }
    return requests.request(method, facebook.graph_url + path, params=params, timeout=5)


def test_facebook_code_flow_then_exchange_for_a_long_lived_token(facebook: FakeFacebook) -> None:
    short = facebook_login(facebook)
    assert short["token_type"] == "bearer"
    assert int(short["expires_in"]) <= 7_200  # type: ignore[call-overload]

    long = requests.get(
        facebook.graph_url + "/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": facebook_api.APP_ID,
            "client_secret": facebook_api.APP_SECRET,
            "fb_exchange_token": str(short["access_token"]),
        },
        timeout=5,
    ).json()
    assert long["token_type"] == "bearer"
    assert 5_183_000 <= long["expires_in"] <= 5_184_000
    me = graph(
        facebook, "GET", "/me", long["access_token"], fields="id,name,email,first_name,verified"
    ).json()
    assert me == {
        "id": facebook.user.id,
        "name": "Sam Streamer",
        "email": "streamer@example.com",
        "first_name": "Sam",
    }


def test_facebook_denied_consent_redirects_with_access_denied(facebook: FakeFacebook) -> None:
    facebook.deny_consent = True
    redirect = follow_authorize(
        facebook.dialog_url, client_id=facebook_api.APP_ID, redirect_uri=CALLBACK, state="s"
    )
    assert redirect["error"] == "access_denied"
    assert redirect["error_reason"] == "user_denied"


def test_graph_answers_bad_tokens_with_an_oauth_exception(facebook: FakeFacebook) -> None:
    garbage = requests.get(facebook.graph_url + "/me", params={"access_token": "nope"}, timeout=5)
    assert garbage.status_code == 400
    assert garbage.json()["error"] | {"fbtrace_id": ""} == {
        "message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": "",
    }

    token = str(facebook_login(facebook)["access_token"])
    wrong_proof = requests.get(
        facebook.graph_url + "/me", params={"access_token": token, "appsecret_proof": "00"}, timeout=5
    )
    assert wrong_proof.json()["error"]["code"] == 100

    facebook.expire_access_token(token)
    expired = graph(facebook, "GET", "/me", token).json()["error"]
    assert (expired["type"], expired["code"], expired["error_subcode"]) == ("OAuthException", 190, 463)


def test_facebook_live_video_is_created_watched_and_ended(facebook: FakeFacebook) -> None:
    facebook.secure_stream_url_base = "rtmp://127.0.0.1:19352/rtmp/"
    token = str(facebook_login(facebook)["access_token"])

    created = graph(
        facebook,
        "POST",
        f"/{facebook.user.id}/live_videos",
        token,
        status="LIVE_NOW",
        title="Prism",
        description="d",
    ).json()
    assert set(created) == {"id", "stream_url", "secure_stream_url"}
    assert created["secure_stream_url"].startswith(f"rtmp://127.0.0.1:19352/rtmp/FB-{created['id']}-0-")
    assert created["stream_url"].startswith("rtmps://live-api-s.facebook.com:443/rtmp/FB-")

    fields = {"fields": "live_views,status"}
    assert graph(facebook, "GET", f"/{created['id']}", token, **fields).json() == {
        "id": created["id"],
        "live_views": 0,
        "status": "UNPUBLISHED",
    }
    facebook.start_receiving(created["id"], live_views=5)
    assert graph(facebook, "GET", f"/{created['id']}", token, **fields).json()["status"] == "LIVE"
    facebook.set_live_views(created["id"], 9)
    assert graph(facebook, "GET", f"/{created['id']}", token, **fields).json()["live_views"] == 9

    ended = graph(facebook, "POST", f"/{created['id']}", token, end_live_video="true").json()
    assert ended == {"id": created["id"]}
    assert graph(facebook, "GET", f"/{created['id']}", token, **fields).json()["status"] == "VOD"


def test_facebook_live_video_needs_publish_video(facebook: FakeFacebook) -> None:
    token = str(facebook_login(facebook, scope="email")["access_token"])
    refused = graph(facebook, "POST", "/me/live_videos", token, status="LIVE_NOW").json()["error"]
    assert (refused["code"], refused["type"]) == (200, "OAuthException")


def test_the_three_fakes_run_side_by_side(fakes: PlatformFakes) -> None:
    urls = {fakes.google.url, fakes.twitch.url, fakes.facebook.url}
    assert len(urls) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in urls)
    assert requests.get(fakes.twitch.url + "/ingests", timeout=5).ok
    assert fakes.twitch.requests[-1].path == "/ingests"
