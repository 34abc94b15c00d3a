"""Settings of the hub. Secrets and the database come from the environment.

- ``DATABASE_URL``: ``postgresql://user:password@host:port/name`` for
  PostgreSQL; unset means the embedded default, SQLite in ``EPITRACE_HOME``.
- ``EPITRACE_SECRET_KEY``: Django's signing key. Unset, a random key is kept
  in ``EPITRACE_HOME/secret_key`` (created with mode 0600), never in the repo.
- ``EPITRACE_AUDIT_KEY``: the key that seals the audit chain (HMAC). It must
  live outside the database, so that whoever can write the database still
  cannot forge a consistent chain. Unset, a random key is kept in
  ``EPITRACE_HOME/audit_key`` like the secret key.
- ``EPITRACE_HOME``: where the embedded default keeps its files (``var/``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse

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
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(HOME / "hub.sqlite3")}
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
DEBUG = os.environ.get("EPITRACE_DEBUG") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("EPITRACE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "epitrace.hub.audit",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "epitrace.hub.urls"
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
