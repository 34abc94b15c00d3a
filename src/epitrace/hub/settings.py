"""Settings of the hub. Secrets and the database come from the environment.

- ``DATABASE_URL``: ``postgresql://user:password@host:port/name`` for
  PostgreSQL; unset means the embedded default, SQLite in ``EPITRACE_HOME``.
- ``EPITRACE_SECRET_KEY``: Django's signing key. Unset, a random key is kept
  in ``EPITRACE_HOME/secret_key`` (created with mode 0600), never in the repo.
- ``EPITRACE_AUDIT_KEY``: the key that seals the audit chain (HMAC). It must
  live outside the database, so that whoever can write the database still
  cannot forge a consistent chain. Unset, a random key is kept in
  ``EPITRACE_HOME/audit_key`` like the secret key.
- ``EPITRACE_MASTER_KEY``: the master key that wraps each case's data key
  (envelope encryption, hub/crypto.py); ``EPITRACE_INDEX_KEY``: the key of the
  blind indexes (searching phone and identity numbers). Both live outside the
  database; unset, each is generated once into ``EPITRACE_HOME`` (mode 0600).
- ``EPITRACE_HOME``: where the embedded default keeps its files (``var/``).
- ``EPITRACE_ALLOWED_NETWORKS``: client networks (CIDRs, comma-separated) that may
  reach the hub; everything else gets 403. Default: loopback only.
- ``EPITRACE_TRUSTED_PROXIES``: the TLS reverse proxies (CIDRs) whose
  X-Forwarded-For and X-Forwarded-Proto are believed. Default: none.
- ``EPITRACE_BREACHED_PASSWORDS``: a sorted file of SHA-1 hashes of breached
  passwords (e.g. the offline "Pwned Passwords" list); unset, Django's list of
  common passwords is the breached list.
- ``EPITRACE_SSL_REDIRECT``: ``0`` only when nothing but the proxy can reach the hub
  over plain HTTP and it redirects itself; default ``1``.
- ``EPITRACE_COOKIE_SECURE``: ``0`` only for the local demo over plain HTTP on loopback
  (``epitrace demo`` sets it and ``EPITRACE_SSL_REDIRECT=0``); default ``1``.
- ``EPITRACE_LOCAL_TIME_ZONE``: the working hours of the monthly audit review (08-20)
  are counted in this zone; default ``Asia/Seoul``. Pages show times in the user's
  chosen zone, this one by default.
- ``EPITRACE_LANGUAGE``: the pages' language when neither the user's preference nor
  the browser says (``ko`` or ``en``); default ``en`` (the demo sets ``ko``).
- ``EPITRACE_MAP_TILE_URL``: an optional raster tile server on the closed network
  (``https://tiles.example/{z}/{x}/{y}.png``) drawn under the case maps; unset, the
  maps show only the hub's own offline base (docs/web.md).
- ``EPITRACE_MAP_BASE_GEOJSON``: an optional GeoJSON file of the city's outlines
  (districts, roads) drawn as the offline base layer of the maps.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse

from epitrace.hub.security import parse_networks

HOME = Path(os.environ.get("EPITRACE_HOME", "var")).resolve()


def _kept_secret(name: str, env: str) -> str:
    """A secret from the environment, or one generated once and kept in HOME."""
    value = os.environ.get(env)
    if value:
        return value
    path = HOME / name
    if not path.exists():
        HOME.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def database_from_url(url: str | None) -> dict[str, object]:
    if not url:
        HOME.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(HOME / "hub.sqlite3"),
            # The job runner, the agents' uploads and the pages write at once: each
            # transaction takes the write lock when it begins (no lock upgrade that
            # fails half-way), and waits for it up to 30 s instead of failing.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parsed.scheme!r}; use postgresql://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
    }


SECRET_KEY = _kept_secret("secret_key", "EPITRACE_SECRET_KEY")
AUDIT_KEY = _kept_secret("audit_key", "EPITRACE_AUDIT_KEY")
# Audit entries are kept this long, then pruned behind a sealed checkpoint.
AUDIT_RETENTION_DAYS = int(os.environ.get("EPITRACE_AUDIT_RETENTION_DAYS", "730"))
MASTER_KEY = _kept_secret("master_key", "EPITRACE_MASTER_KEY")
INDEX_KEY = _kept_secret("index_key", "EPITRACE_INDEX_KEY")
DEBUG = os.environ.get("EPITRACE_DEBUG") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("EPITRACE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "epitrace.hub.audit",
    "epitrace.hub.accounts",
    "epitrace.hub.cases",
    "epitrace.hub.exchange",
    "epitrace.hub.web",
    "epitrace.hub.disclosure",
    "epitrace.hub.retention",
]
MIDDLEWARE = [
    # First: a request from outside the closed network gets no further.
    "epitrace.hub.security.NetworkAllowListMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The hub serves its own static files (stylesheet, vendored front-end libraries).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "epitrace.hub.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The signed-in user's language and time zone (epitrace.hub.web.preferences).
    "epitrace.hub.web.preferences.PreferenceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
ROOT_URLCONF = "epitrace.hub.urls"
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Korean and English pages (docs/web.md); the compiled catalogue is in hub/locale.
USE_I18N = True
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LANGUAGE_CODE = os.environ.get("EPITRACE_LANGUAGE", "en")
LOCALE_PATHS = [str(Path(__file__).with_name("locale"))]
# Static files from the apps' static/ folders, served by WhiteNoise inside the hub
# (closed network: no CDN). The front-end libraries are vendored there by
# scripts/vendor-frontend.sh.
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_MIMETYPES = {".mjs": "text/javascript", ".geojson": "application/geo+json"}
EPITRACE_MAP_TILE_URL = os.environ.get("EPITRACE_MAP_TILE_URL", "")
EPITRACE_MAP_BASE_GEOJSON = os.environ.get("EPITRACE_MAP_BASE_GEOJSON", "")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

AUTH_USER_MODEL = "auth.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out accounts
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "epitrace.hub.accounts.passwords.BreachedPasswordValidator"},
]
EPITRACE_BREACHED_PASSWORDS = os.environ.get("EPITRACE_BREACHED_PASSWORDS", "")

# The closed network: who may reach the hub at all, and which proxies to believe.
EPITRACE_ALLOWED_NETWORKS = parse_networks(
    os.environ.get("EPITRACE_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
)
EPITRACE_TRUSTED_PROXIES = parse_networks(os.environ.get("EPITRACE_TRUSTED_PROXIES", ""))

# Lockout after 5 failed attempts per username (from any address) until an
# administrator unlocks; unknown usernames lock the same way, so nothing leaks.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = None
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "epitrace.hub.accounts.login.locked_out"
AXES_CLIENT_IP_CALLABLE = "epitrace.hub.security.client_ip"
AXES_VERBOSE = False

# Sessions: 30 minutes idle and the session ends (each request renews it).
SESSION_COOKIE_AGE = int(dt.timedelta(minutes=30).total_seconds())
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Secure cookies only travel over HTTPS; EPITRACE_COOKIE_SECURE=0 is for the local
# demo on http://127.0.0.1 (epitrace demo sets it), never for service.
SESSION_COOKIE_SECURE = os.environ.get("EPITRACE_COOKIE_SECURE", "1") != "0"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True  # clients get the token from GET /api/csrf
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_USE_SESSIONS = False

# HTTPS only (TLS ends at the reverse proxy, which sets X-Forwarded-Proto).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("EPITRACE_SSL_REDIRECT", "1") != "0"
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Not "no-referrer": with it browsers send "Origin: null" on every form POST, even to the
# same origin (Fetch standard), and Django's CSRF check refuses them. "same-origin" keeps
# the referrer from every other site and lets the hub's own forms prove their origin.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# TOTP: the issuer shown in authenticator apps.
OTP_TOTP_ISSUER = "epitrace"
LOGIN_URL = "/login"
# The monthly audit review counts access outside working hours in this time zone.
EPITRACE_LOCAL_TIME_ZONE = os.environ.get("EPITRACE_LOCAL_TIME_ZONE", "Asia/Seoul")
# Lockout is per username from any address (above), on purpose: on a closed network
# behind one proxy, locking addresses would lock whole offices. Axes warns anyway.
# HSTS preload lists are for public domains; the hub's name is internal.
SILENCED_SYSTEM_CHECKS = ["axes.W006", "security.W021"]
