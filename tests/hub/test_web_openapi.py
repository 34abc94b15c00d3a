"""The OpenAPI schema names exactly the API routes the hub serves."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from epitrace.hub.web.openapi import OPERATIONS, api_paths

METHODS = {"get", "post", "put", "patch", "delete"}


def test_schema_is_served_and_openapi_3() -> None:
    schema = Client().get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method in METHODS:
                assert operation["responses"], method


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", "1", path)  # "1" fits every converter, int included


def test_every_schema_path_resolves_and_every_route_is_in_the_schema() -> None:
    schema = Client().get("/api/openapi.json").json()
    for path in schema["paths"]:
        try:
            resolve(concrete(path))
        except Resolver404:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{path} is in the schema but the hub does not serve it")
    assert set(schema["paths"]) == set(api_paths())
    assert set(OPERATIONS) <= set(api_paths()), "OPERATIONS describes a route that is gone"


@pytest.mark.django_db
def test_the_described_methods_are_the_ones_served() -> None:
    """A described method that the view refuses would make the schema lie."""
    client = Client()
    for path, item in OPERATIONS.items():
        for method in METHODS & set(item):
            answer = getattr(client, method)(concrete(path))
            assert answer.status_code != 405, (method, path)
