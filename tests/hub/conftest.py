"""Accounts for every role, and clients signed in with both factors."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts.models import Agency, Role
from epitrace.hub.accounts.regions import district_region
from epitrace.hub.accounts.roles import assign_role

PASSWORD = "violet-harbour-lantern-47"


@functools.cache
def password_hash() -> str:
    """Hashed once per run: Argon2 is slow by design."""
    return make_password(PASSWORD)


@pytest.fixture(autouse=True)
def _plain_http_test_client(settings: Any) -> None:
    # The test client speaks plain HTTP; in service TLS ends at the proxy (docs/operations.md).
    settings.SECURE_SSL_REDIRECT = False


# The regions of the tests, by their 시군구 and 시도 codes.
SEOUL_JUNG, SEOUL_JONGNO, SEOUL, BUSAN_JUNG = "11140", "11110", "11", "26110"


@pytest.fixture
def places(db: None) -> dict[str, Any]:
    """Regions (two neighbouring 시군구 of Seoul, Seoul itself, one of Busan) and agencies.
    The migrations add every district, but a test that empties the database removes them."""
    return {
        "seoul": district_region(SEOUL_JUNG),  # 서울특별시 중구
        "jongno": district_region(SEOUL_JONGNO),  # 서울특별시 종로구, its neighbour
        "seoul_city": district_region(SEOUL),  # 서울특별시, the 시도 of both
        "busan": district_region(BUSAN_JUNG),  # 부산광역시 중구, in another 시도
        "carrier": Agency.objects.create(code="carrier-a", name="Carrier A"),
        "cards": Agency.objects.create(code="cards-b", name="Card company B"),
    }


@pytest.fixture
def make_account(places: dict[str, Any]) -> Callable[..., Any]:
    """An account holding ``role`` (None: no role), with a confirmed TOTP device."""

    def make(role: Role | None, username: str | None = None, **binding: Any) -> Any:
        if role == Role.REGIONAL_INVESTIGATOR:
            binding.setdefault("region", places["seoul"])
        if role == Role.PROVIDER_OPERATOR:
            binding.setdefault("agency", places["carrier"])
        username = username or str(role or "nobody")
        user = get_user_model().objects.create(username=username, password=password_hash())
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        if role is not None:
            assign_role(user, role, by="setup", reason="test account", **binding)
        return user

    return make


def sign_in(user: Any, *, second_factor: bool = True) -> Client:
    """A client signed in as ``user`` (password step), and verified with TOTP if asked."""
    client = Client()
    client.force_login(user)
    if second_factor:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
        session.save()
    return client


@pytest.fixture
def signed_in() -> Callable[..., Client]:
    return sign_in


@pytest.fixture
def log_in() -> Callable[..., Any]:
    """The password step through the API (the test accounts' password unless another is given)."""

    def post_login(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
        body = json.dumps({"username": username, "password": password})
        return client.post("/api/login", body, content_type="application/json", **extra)

    return post_login
