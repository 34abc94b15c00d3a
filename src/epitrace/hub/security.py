"""Request security that Django does not ship: the client-network allow-list, the
client's address behind a trusted reverse proxy, a strict Content-Security-Policy, and
the idle timeout that a page's background polls do not renew."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from urllib.parse import urlparse

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``"10.0.0.0/8, 192.168.1.7"`` -> networks; a bare address is a /32 (or /128)."""
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    ]


def _address_in(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind a trusted reverse proxy, the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (clients can forge the rest)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.EPITRACE_TRUSTED_PROXIES
    if not proxies or not _address_in(remote, proxies):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _address_in(address, proxies):
            return address
    return remote


class NetworkAllowListMiddleware:
    """Refuse every request from outside EPITRACE_ALLOWED_NETWORKS, before any other work."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = client_ip(request)
        if not _address_in(address, settings.EPITRACE_ALLOWED_NETWORKS):
            log.warning("refused a request from %s: outside the allowed networks", address)
            return JsonResponse({"error": "this network may not reach the hub"}, status=403)
        return self.get_response(request)


# Only the hub's own scripts, styles and images (and inline data: images such as the
# enrolment QR code); no inline script, no framing, forms post only to the hub.
# The map library starts its worker from its own module file on the hub ('self', no
# blob:). An administrator's tile server (EPITRACE_MAP_TILE_URL) is the one other origin
# the maps may load images from (content_security_policy below).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


def content_security_policy(tile_url: str = "") -> str:
    """The policy, with the tile server's origin allowed for images and fetches if one is set."""
    if not tile_url:
        return CONTENT_SECURITY_POLICY
    parsed = urlparse(tile_url)
    origin = f"{parsed.scheme}://{parsed.netloc}"
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:", f"img-src 'self' data: {origin}"
    ).replace("connect-src 'self'", f"connect-src 'self' {origin}")


# Sent by the pages' own polls (hx-headers on the polling element): not a person's activity.
AGENT_API_PREFIX = "/api/agent/"  # agents upload answer files, up to their own limit


class BodySizeLimitMiddleware:
    """Answers 413 to a request whose declared body is larger than its endpoint takes
    (an agent's answer: ``EPITRACE_MAX_ANSWER_BYTES``; anything else:
    ``EPITRACE_MAX_UPLOAD_BYTES``), before a byte of the body is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"error": "unreadable Content-Length"}, status=400)
        limit = (
            settings.EPITRACE_MAX_ANSWER_BYTES
            if request.path.startswith(AGENT_API_PREFIX)
            else settings.EPITRACE_MAX_UPLOAD_BYTES
        )
        if declared > limit:
            return JsonResponse({"error": f"the body is larger than {limit:,} bytes"}, status=413)
        return self.get_response(request)


BACKGROUND_POLL_HEADER = "X-Background-Poll"


class IdleTimeoutMiddleware:
    """Each request a person makes renews the session's idle time (SESSION_COOKIE_AGE);
    a background poll of an open page does not, so a forgotten page still times out.
    A poll whose session has ended is told to reload the page (``HX-Refresh``), which
    then asks to sign in, instead of swapping the sign-in page into the fragment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.headers.get(BACKGROUND_POLL_HEADER):
            request.session.modified = True  # saved, with a fresh expiry, if not empty
        elif response.status_code == 302:
            response = HttpResponse(status=200, headers={"HX-Refresh": "true"})
        return response


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every answer; no caching of
    answers that may hold personal data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy(settings.EPITRACE_MAP_TILE_URL)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cache-Control", "no-store")
        return response
