"""The hub as a WSGI application, for the server behind the TLS proxy (docs/operations.md)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "epitrace.hub.settings")
application = get_wsgi_application()
