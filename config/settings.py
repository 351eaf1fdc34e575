"""Prism settings, read from the environment (and a `.env` file) through django-environ.

Every variable is listed with a comment in `.env.example`. With DEBUG off, secrets have no
default: a missing SECRET_KEY or FIELD_ENCRYPTION_KEYS stops start-up with a clear message.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# ENV_FILE names another file (tests pass /dev/null); variables already set always win.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def required_secret(name: str, dev_default: str, hint: str) -> str:
    """A secret from the environment; only DEBUG may fall back to a development value."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} is not set and DEBUG is off. {hint}")


SECRET_KEY = required_secret(
    "SECRET_KEY",
    "dev-only-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz",
    'Generate one: python -c "import secrets; print(secrets.token_urlsafe(50))"',
)


def development_fernet_key() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(("prism-dev:" + SECRET_KEY).encode()).digest()).decode()


# Newest key first: new values are encrypted with it, older keys still decrypt (MultiFernet).
FIELD_ENCRYPTION_KEYS: list[str] = [
    key.strip()
    for key in required_secret(
        "FIELD_ENCRYPTION_KEYS",
        development_fernet_key(),
        "Generate one: python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
    ).split(",")
    if key.strip()
]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.twitch",
    "allauth.socialaccount.providers.facebook",
    "djstripe",
    "accounts",
    "billing",
    "platforms",
    "streaming",
    "studio",
    "recordings",
    "whip",
]

MIDDLEWARE = [
    # nginx-rtmp's callbacks name 127.0.0.1 as their host: let them (and only them) through.
    "streaming.callback_host.RtmpCallbackHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.notices.active_notices",
                "billing.views.payment_banner",
            ],
        },
    },
]

# SQLite under var/ is the embedded default; DATABASE_URL=postgres://… switches to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'prism.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # `make run`'s web, worker, media worker (many threads) and beat all write to one file.
    # WAL lets readers go on while one writes; BEGIN IMMEDIATE takes the write lock when a
    # transaction starts, so two writers queue on the busy timeout instead of one failing at
    # once with "database is locked" (a read lock cannot be upgraded while another writes).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("SQLITE_BUSY_TIMEOUT_SECONDS", default=20.0),
        }
    )
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Shows which process holds which connection in pg_stat_activity (the Procfile names the media
    # worker after its node).
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env.str(
        "DB_APPLICATION_NAME", default="prism"
    )
    # A pool lets the media worker's supervisor threads (one per relay, encoder or recorder) share a
    # few connections: each hands its connection back between checks. Set for the media worker by the
    # Procfile; 0 (the default) keeps one connection per thread.
    DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
    if DB_POOL_MAX_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
        DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": 30}

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    # allauth's rate limits live in the cache: it must be shared by every web process.
    "default": env.cache("CACHE_URL", default=REDIS_URL.replace("redis://", "rediscache://", 1)),
}
# The layer waits for messages in a BZPOPMIN of 5 s (RedisChannelLayer.brpop_timeout). redis-py 8 reads
# with a 5 s socket timeout by default, so each idle wait ended in TimeoutError and tore down every
# WebSocket about every 5 s. A host given as a dict is passed to redis-py's ConnectionPool.from_url.
CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS = 15.0
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS}],
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default="prism"),
        },
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = False  # streams are held under lease rows, never inside an acked-late task
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "refresh-platform-tokens": {"task": "platforms.tasks.refresh_expiring_tokens", "schedule": 300.0},
    # Restart what lost its supervisor, end sessions past their grace period or plan limit.
    "streaming-reconcile": {"task": "streaming.tasks.reconcile", "schedule": 5.0},
    "streaming-viewers": {"task": "streaming.tasks.poll_viewers", "schedule": 30.0},
    # Restart recorders that lost their worker; finish recordings whose stream is over.
    "recordings-reconcile": {"task": "recordings.tasks.reconcile_recordings", "schedule": 5.0},
    # Plan enforcements whose task was lost (broker restart, mail server down past the retries).
    "billing-requeue-enforcements": {
        "task": "billing.tasks.requeue_stuck_plan_enforcements",
        "schedule": 600.0,
    },
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "studio:home"
LOGIN_URL = "account_login"

SITE_ID = 1
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "platforms.adapters.SocialAccountAdapter"
# allauth's default rate limits (login_failed among them) stay on; they are only listed here.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
}
# Whose address the per-IP limits count. Behind the TLS proxy every request comes from the proxy's
# address, so ten wrong passwords from anyone would lock everyone out: the client is the address the
# proxy appended to X-Forwarded-For (TRUSTED_PROXY_COUNT proxies of ours in front of daphne; entries
# before them are the client's own claims and ignored). Without a proxy (0) the header is ignored,
# so a client cannot pick its own address. TRUSTED_CLIENT_IP_HEADER (e.g. X-Real-IP) instead names
# a header the proxy sets to the client's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int(
    "TRUSTED_PROXY_COUNT", default=1 if env.bool("BEHIND_TLS_PROXY", default=True) else 0
)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("TRUSTED_CLIENT_IP_HEADER", default="") or None

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Prism <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where the release step's collectstatic writes (and whitenoise serves from, with its manifest).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# HTTPS hardening: on by default outside DEBUG (`manage.py check --deploy` stays silent).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=True) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^rtmp/"]  # probes and nginx-rtmp callbacks speak plain HTTP
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Stripe (dj-stripe). STRIPE_API_BASE points stripe-python at a stand-in server in tests.
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
# The placeholder keeps dj-stripe's checks quiet; billing treats it as "not configured" and never calls
# Stripe with it (billing/configuration.py).
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="sk_test_prismPlaceholderKey000000000000")
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
if STRIPE_API_BASE:
    # dj-stripe reads only STRIPE_API_HOST, once at import, into stripe.api_base (our own calls share it).
    STRIPE_API_HOST = STRIPE_API_BASE
STRIPE_HTTP_TIMEOUT = env.float("STRIPE_HTTP_TIMEOUT", default=20.0)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# The platforms. Client ids and secrets come from each platform's developer console; the *_BASE
# variables point our HTTP seams and allauth at stand-in servers in tests.
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
TWITCH_CLIENT_ID = env.str("TWITCH_CLIENT_ID", default="")
TWITCH_CLIENT_SECRET = env.str("TWITCH_CLIENT_SECRET", default="")
FACEBOOK_CLIENT_ID = env.str("FACEBOOK_CLIENT_ID", default="")
FACEBOOK_CLIENT_SECRET = env.str("FACEBOOK_CLIENT_SECRET", default="")
PLATFORM_HTTP_TIMEOUT = env.float("PLATFORM_HTTP_TIMEOUT", default=10.0)
SOCIALACCOUNT_STORE_TOKENS = False  # tokens live encrypted on PlatformConnection, never in plain text
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # social accounts connect destinations; they never log anyone in
# Where the platforms live. Read by our HTTP seams and our allauth adapters at call time (tests point
# them at local stand-ins). Google serves OAuth and the APIs from several hosts; each has its own base.
GOOGLE_ACCOUNTS_BASE = env.str("GOOGLE_ACCOUNTS_BASE", default="https://accounts.google.com")
GOOGLE_OAUTH_BASE = env.str("GOOGLE_OAUTH_BASE", default="https://oauth2.googleapis.com")
GOOGLE_API_BASE = env.str("GOOGLE_API_BASE", default="https://www.googleapis.com")
YOUTUBE_API_BASE = env.str("YOUTUBE_API_BASE", default="https://www.googleapis.com/youtube/v3")
TWITCH_ID_BASE = env.str("TWITCH_ID_BASE", default="https://id.twitch.tv")
TWITCH_API_BASE = env.str("TWITCH_API_BASE", default="https://api.twitch.tv/helix")
TWITCH_INGEST_URL = env.str("TWITCH_INGEST_URL", default="https://ingest.twitch.tv/ingests")
FACEBOOK_DIALOG_BASE = env.str("FACEBOOK_DIALOG_BASE", default="https://www.facebook.com/v19.0")
FACEBOOK_GRAPH_BASE = env.str("FACEBOOK_GRAPH_BASE", default="https://graph.facebook.com/v19.0")
# Refresh OAuth tokens this many seconds before they expire (beat task and before each API call).
PLATFORM_TOKEN_REFRESH_MARGIN = env.int("PLATFORM_TOKEN_REFRESH_MARGIN", default=600)

SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {
    # provider_class swaps in our subclasses, whose endpoints come from the *_BASE settings above.
    "google": {
        "provider_class": "platforms.oauth.google.provider.PrismGoogleProvider",
        "APPS": [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET}] if GOOGLE_CLIENT_ID else [],
        "SCOPE": ["profile", "email", "https://www.googleapis.com/auth/youtube"],
        "AUTH_PARAMS": {"access_type": "offline", "prompt": "consent"},
    },
    "twitch": {
        "provider_class": "platforms.oauth.twitch.provider.PrismTwitchProvider",
        "APPS": [{"client_id": TWITCH_CLIENT_ID, "secret": TWITCH_CLIENT_SECRET}] if TWITCH_CLIENT_ID else [],
        "SCOPE": ["user:read:email", "channel:read:stream_key", "channel:manage:broadcast"],
    },
    "facebook": {
        "provider_class": "platforms.oauth.facebook.provider.PrismFacebookProvider",
        "APPS": [{"client_id": FACEBOOK_CLIENT_ID, "secret": FACEBOOK_CLIENT_SECRET}]
        if FACEBOOK_CLIENT_ID
        else [],
        "SCOPE": ["email", "publish_video"],
        "METHOD": "oauth2",
    },
}

# Media: this node's name (its Celery queue is media.<name>) and its RTMP ingest.
MEDIA_NODE = env.str("MEDIA_NODE", default="local")
RTMP_PORT = env.int("RTMP_PORT", default=1935)
# nginx-rtmp calls on_update this often (seconds) for each publisher and reader of a session.
RTMP_UPDATE_SECONDS = env.int("RTMP_UPDATE_SECONDS", default=30)
# Loopback HTTP port of this node's nginx-rtmp control module: Stop drops the publisher through it.
RTMP_CONTROL_PORT = env.int("RTMP_CONTROL_PORT", default=8936)
RTMP_PUBLIC_URL = env.str("RTMP_PUBLIC_URL", default=f"rtmp://127.0.0.1:{RTMP_PORT}/live")
RTMP_CALLBACK_BASE = env.str("RTMP_CALLBACK_BASE", default="http://127.0.0.1:8000")
# Who may call /rtmp/on_publish/ & co.: the media nodes' nginx (comma-separated CIDRs).
RTMP_CALLBACK_ALLOWED_NETWORKS = env.list(
    "RTMP_CALLBACK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
# Where this node's workers read the ingest (nginx allows play from loopback only).
RTMP_LOCAL_HOST = env.str("RTMP_LOCAL_HOST", default="127.0.0.1")
# A publisher that drops and returns within this many seconds continues the same session.
# When the ingest is started as root, the user its nginx worker runs as (Debian: nobody).
RTMP_WORKER_USER = env.str("RTMP_WORKER_USER", default="nobody")
STREAM_RECONNECT_GRACE_SECONDS = env.float("STREAM_RECONNECT_GRACE_SECONDS", default=30.0)
# Supervision of relays and encoders (seconds): lease, heartbeat, stall detection, retries.
STREAM_LEASE_SECONDS = env.float("STREAM_LEASE_SECONDS", default=8.0)
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=2.0)
STREAM_STALL_SECONDS = env.float("STREAM_STALL_SECONDS", default=2.0)
STREAM_START_TIMEOUT_SECONDS = env.float("STREAM_START_TIMEOUT_SECONDS", default=15.0)
# How long an on_publish that starts a session may wait for its relays and encoders to connect.
STREAM_PUBLISH_HOLD_SECONDS = env.float("STREAM_PUBLISH_HOLD_SECONDS", default=1.0)
STREAM_RETRY_BASE_SECONDS = env.float("STREAM_RETRY_BASE_SECONDS", default=1.0)
STREAM_MAX_RETRIES = env.int("STREAM_MAX_RETRIES", default=3)
STREAM_HEALTHY_REFILL_SECONDS = env.float("STREAM_HEALTHY_REFILL_SECONDS", default=60.0)
STREAM_STOP_GRACE_SECONDS = env.float("STREAM_STOP_GRACE_SECONDS", default=5.0)
# WHIP ingest (manage.py whip_server, one per media node): browsers and OBS 30+ publish over
# WebRTC; the server publishes RTMP into this node's ingest with the user's key, as OBS does.
WHIP_BIND = env.str("WHIP_BIND", default="127.0.0.1")
WHIP_PORT = env.int("WHIP_PORT", default=8090)
# The endpoint URL shown to the studio and to OBS (a TLS proxy's https URL in production).
WHIP_PUBLIC_URL = env.str("WHIP_PUBLIC_URL", default=f"http://127.0.0.1:{WHIP_PORT}/whip").rstrip("/")
# Origins whose pages may call the endpoint from a browser (CORS): the site itself.
WHIP_ALLOWED_ORIGINS = env.list("WHIP_ALLOWED_ORIGINS", default=[SITE_URL])
# How long a studio token minted for the browser may start a session (seconds).
WHIP_TOKEN_SECONDS = env.int("WHIP_TOKEN_SECONDS", default=300)
# ICE: the addresses this node offers as host candidates (empty: every address of the machine) and
# the STUN/TURN servers it uses (empty: none; aiortc would otherwise ask a public Google server).
WHIP_ICE_ADDRESSES = env.list("WHIP_ICE_ADDRESSES", default=[])
WHIP_ICE_SERVERS = env.list("WHIP_ICE_SERVERS", default=[])
WHIP_MAX_SESSIONS = env.int("WHIP_MAX_SESSIONS", default=20)
# Chrome's bandwidth estimate starts at 300 kb/s against aiortc; this start rate skips the ramp.
WHIP_START_BITRATE_KBPS = env.int("WHIP_START_BITRATE_KBPS", default=2000)
# A keyframe is asked for this often (PLI): browsers send one only at start and when asked.
WHIP_KEYFRAME_SECONDS = env.float("WHIP_KEYFRAME_SECONDS", default=2.0)
# A session that brings no video this long after its answer is ended.
WHIP_MEDIA_TIMEOUT_SECONDS = env.float("WHIP_MEDIA_TIMEOUT_SECONDS", default=15.0)
# The re-encode fallback (offers without H.264): output height and video bitrate.
WHIP_FALLBACK_HEIGHT = env.int("WHIP_FALLBACK_HEIGHT", default=720)
WHIP_FALLBACK_KBPS = env.int("WHIP_FALLBACK_KBPS", default=2500)
# The local test destination (the ingest's `sink` app) and where its HLS preview is served.
# Where that sink writes its HLS on this machine: the studio's preview serves it to the owner only.
RTMP_SINK_HLS_DIR = Path(
    env.str("RTMP_SINK_HLS_DIR", default=str(VAR_DIR / "run" / f"nginx-{MEDIA_NODE}" / "hls"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
