"""Settings of the hub. Secrets, the database and every ``EPITRACE_*`` knob come from the
environment, and are read here only: the rest of the hub reads ``settings.X``.

Each setting is declared once below, with its default and its meaning; the same list is
the table of docs/operations.md ("Settings of the hub"). Secrets (the signing key, the
audit key, the master and index keys) never have a default in the repository: unset,
each is generated once into ``EPITRACE_HOME`` with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse

from epitrace.hub.security import parse_networks

# EPITRACE_HOME (default ``var``): where the embedded default keeps its files (SQLite,
# key files, the cases' encrypted folders).
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


# EPITRACE_SECRET_KEY: Django's signing key (sessions, CSRF). Default: kept in HOME.
SECRET_KEY = _kept_secret("secret_key", "EPITRACE_SECRET_KEY")
# EPITRACE_AUDIT_KEY: the key that seals the audit chain (HMAC). It lives outside the
# database, so whoever can write the database still cannot forge a consistent chain.
AUDIT_KEY = _kept_secret("audit_key", "EPITRACE_AUDIT_KEY")
# EPITRACE_AUDIT_RETENTION_DAYS (730, two years): audit entries are kept this long, then
# pruned behind a sealed checkpoint; the retention page may lengthen it, never shorten it.
EPITRACE_AUDIT_RETENTION_DAYS = int(os.environ.get("EPITRACE_AUDIT_RETENTION_DAYS", "730"))
# EPITRACE_AUDIT_ANCHOR (``EPITRACE_HOME/audit_anchor``): the chain's high-water mark on
# the application host (the last entry's number and seal, sealed with the audit key), so
# that a chain cut short or wiped in the database is noticed. Keep it off the database host.
EPITRACE_AUDIT_ANCHOR = os.environ.get("EPITRACE_AUDIT_ANCHOR") or str(HOME / "audit_anchor")
# EPITRACE_MASTER_KEY: wraps each case's data key (envelope encryption, hub/crypto.py);
# EPITRACE_INDEX_KEY: the key of the blind indexes (searching phone and identity numbers).
MASTER_KEY = _kept_secret("master_key", "EPITRACE_MASTER_KEY")
INDEX_KEY = _kept_secret("index_key", "EPITRACE_INDEX_KEY")
# EPITRACE_KEY_PROVIDER: the dotted path of the class that wraps data keys; the default
# keeps the master key above, a KMS or HSM provider can replace it.
EPITRACE_KEY_PROVIDER = os.environ.get(
    "EPITRACE_KEY_PROVIDER", "epitrace.hub.crypto.LocalKeyProvider"
)
# EPITRACE_DEBUG=1: Django's debug pages. Never in service.
DEBUG = os.environ.get("EPITRACE_DEBUG") == "1"
# EPITRACE_ALLOWED_HOSTS (``127.0.0.1,localhost``): the host names the hub answers to.
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
    "epitrace.hub.chains",
]
MIDDLEWARE = [
    # First: a request from outside the closed network gets no further.
    "epitrace.hub.security.NetworkAllowListMiddleware",
    # Then: a body larger than its endpoint takes is refused before it is read.
    "epitrace.hub.security.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The hub serves its own static files (stylesheet, vendored front-end libraries).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "epitrace.hub.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Renews the idle time on each request but a page's background polls.
    "epitrace.hub.security.IdleTimeoutMiddleware",
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
# DATABASE_URL: ``postgresql://user:password@host:port/name`` for PostgreSQL; unset, the
# embedded default, SQLite in HOME.
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Korean and English pages (docs/web.md); the compiled catalogue is in hub/locale.
USE_I18N = True
LANGUAGES = [("ko", "한국어"), ("en", "English")]
# EPITRACE_LANGUAGE (``ko``): the pages' language when neither the user's preference nor
# the browser says (``ko`` or ``en``): Korean first, as the people who use the hub work.
LANGUAGE_CODE = os.environ.get("EPITRACE_LANGUAGE", "ko")
LOCALE_PATHS = [str(Path(__file__).with_name("locale"))]
# Static files from the apps' static/ folders, served by WhiteNoise inside the hub
# (closed network: no CDN). The front-end libraries are vendored there by
# scripts/vendor-frontend.sh.
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_MIMETYPES = {".mjs": "text/javascript", ".geojson": "application/geo+json"}
# EPITRACE_MAP_TILE_URL (unset): a raster tile server on the closed network
# (``https://tiles.example/{z}/{x}/{y}.png``) drawn under the maps; unset, the maps show
# only the hub's own offline base (docs/web.md).
EPITRACE_MAP_TILE_URL = os.environ.get("EPITRACE_MAP_TILE_URL", "")
# EPITRACE_MAP_BASE_GEOJSON (unset): a GeoJSON file of the city's outlines (districts,
# roads), the maps' offline base layer and the areas of the public disclosure.
EPITRACE_MAP_BASE_GEOJSON = os.environ.get("EPITRACE_MAP_BASE_GEOJSON", "")
# EPITRACE_MAP_PMTILES (unset): a street basemap, one PMTiles archive on the hub host
# (e.g. a Korea extract of OpenStreetMap in the Protomaps schema), served with range
# requests and drawn under the stays (docs/operations.md); unset, no streets.
EPITRACE_MAP_PMTILES = os.environ.get("EPITRACE_MAP_PMTILES", "")
# EPITRACE_PDF_FONT (``/usr/share/fonts/truetype/nanum/NanumGothic.ttf``, installed by
# scripts/install-fonts.sh): the TrueType font with Hangul and Latin letters that the PDF
# report embeds.
EPITRACE_PDF_FONT = os.environ.get(
    "EPITRACE_PDF_FONT", "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"
)
# EPITRACE_HOTSPOT_ALPHA (0.05): the hotspot page lists a cluster under "suspected
# outbreak areas" (and draws it so) only when its Monte Carlo p-value is below this; the
# others are listed apart as not significant.
EPITRACE_HOTSPOT_ALPHA = float(os.environ.get("EPITRACE_HOTSPOT_ALPHA", "0.05"))
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
# EPITRACE_BREACHED_PASSWORDS (unset): a sorted file of SHA-1 hashes of breached passwords
# (e.g. the offline "Pwned Passwords" list); unset, Django's common passwords are the list.
EPITRACE_BREACHED_PASSWORDS = os.environ.get("EPITRACE_BREACHED_PASSWORDS", "")

# The closed network. EPITRACE_ALLOWED_NETWORKS (loopback): client networks (CIDRs,
# comma-separated) that may reach the hub, everything else gets 403.
# EPITRACE_TRUSTED_PROXIES (none): the TLS reverse proxies whose X-Forwarded-For and
# X-Forwarded-Proto are believed.
EPITRACE_ALLOWED_NETWORKS = parse_networks(
    os.environ.get("EPITRACE_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
)
EPITRACE_TRUSTED_PROXIES = parse_networks(os.environ.get("EPITRACE_TRUSTED_PROXIES", ""))

# Sign-in lockout (accounts/lockout.py, docs/security.md). The 5th failed password for a
# username from one client address locks that pair for EPITRACE_LOGIN_COOLOFF_MINUTES (5),
# doubled for each further lockout within a day, at most a day; an administrator can
# unlock sooner. Unknown usernames lock the same way, so nothing leaks. More than
# EPITRACE_LOGIN_ADDRESS_LIMIT (30) failures from one address within the base cool-off,
# whatever the usernames, and that address is refused (429) for the cool-off: high
# enough for an office behind one proxy, low enough to stop password spraying.
EPITRACE_LOGIN_COOLOFF_MINUTES = int(os.environ.get("EPITRACE_LOGIN_COOLOFF_MINUTES", "5"))
EPITRACE_LOGIN_ADDRESS_LIMIT = int(os.environ.get("EPITRACE_LOGIN_ADDRESS_LIMIT", "30"))
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = "epitrace.hub.accounts.lockout.cool_off"
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "epitrace.hub.accounts.login.locked_out"
AXES_CLIENT_IP_CALLABLE = "epitrace.hub.security.client_ip"
AXES_VERBOSE = False

# Sessions: 30 minutes idle and the session ends (each request renews it, through
# security.IdleTimeoutMiddleware: a page's background polls do not).
SESSION_COOKIE_AGE = int(dt.timedelta(minutes=30).total_seconds())
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Secure cookies only travel over HTTPS. EPITRACE_COOKIE_SECURE (``1``): ``0`` is for the
# local demo on http://127.0.0.1 (epitrace demo sets it), never for service.
SESSION_COOKIE_SECURE = os.environ.get("EPITRACE_COOKIE_SECURE", "1") != "0"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True  # clients get the token from GET /api/csrf
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_USE_SESSIONS = False

# HTTPS only (TLS ends at the reverse proxy, which sets X-Forwarded-Proto).
# EPITRACE_SSL_REDIRECT (``1``): ``0`` only when nothing but the proxy can reach the hub
# over plain HTTP and it redirects itself (and for the local demo).
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
# EPITRACE_LOCAL_TIME_ZONE (``Asia/Seoul``): the monthly audit review counts access
# outside working hours (08-20) in this zone, the retention days and public disclosure
# are dated in it, and pages show times in it unless the user chose another zone.
EPITRACE_LOCAL_TIME_ZONE = os.environ.get("EPITRACE_LOCAL_TIME_ZONE", "Asia/Seoul")

# The data exchange (docs/exchange.md).
# EPITRACE_REQUEST_DEADLINE_HOURS (24): a data request's answers are due this long after
# it is made (or approved); overdue requests are flagged in the lists.
EPITRACE_REQUEST_DEADLINE_HOURS = float(os.environ.get("EPITRACE_REQUEST_DEADLINE_HOURS", "24"))
# EPITRACE_TASK_DEADLINE_HOURS (6): an agency's task is due this long after it is sent.
EPITRACE_TASK_DEADLINE_HOURS = float(os.environ.get("EPITRACE_TASK_DEADLINE_HOURS", "6"))
# EPITRACE_JOB_LEASE_SECONDS (120): a worker holds a claimed job this long; a job whose
# worker died is taken over by another once the lease has passed.
EPITRACE_JOB_LEASE_SECONDS = float(os.environ.get("EPITRACE_JOB_LEASE_SECONDS", "120"))
# EPITRACE_ANSWER_SETTLE_SECONDS (1): the job after an answer waits this long, so that
# answers of one round arriving together are taken in one pass.
EPITRACE_ANSWER_SETTLE_SECONDS = float(os.environ.get("EPITRACE_ANSWER_SETTLE_SECONDS", "1"))
# EPITRACE_MAX_ANSWER_BYTES (256 MiB): the largest answer file an agent may upload.
EPITRACE_MAX_ANSWER_BYTES = int(os.environ.get("EPITRACE_MAX_ANSWER_BYTES", str(256 * 1024**2)))
# EPITRACE_MAX_UPLOAD_BYTES (6 MiB): the largest body any other request may send (an
# interview file is at most 5 MiB); a larger declared body is refused before it is read.
EPITRACE_MAX_UPLOAD_BYTES = int(os.environ.get("EPITRACE_MAX_UPLOAD_BYTES", str(6 * 1024**2)))
# Uploaded files stay in memory, never in the system's temporary folder (nothing
# personal outside the hub's home); the body limit above bounds that memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = EPITRACE_MAX_UPLOAD_BYTES
# Lockout is per username from any address (above), on purpose: on a closed network
# behind one proxy, locking addresses would lock whole offices. Axes warns anyway.
# HSTS preload lists are for public domains; the hub's name is internal.
SILENCED_SYSTEM_CHECKS = ["axes.W006", "security.W021"]
