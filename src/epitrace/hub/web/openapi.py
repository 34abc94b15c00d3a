"""The OpenAPI 3 schema of the JSON API, served at /api/openapi.json.

Operations are written by hand (the endpoints are plain Django views). The list of
paths comes from the URL routes, so the schema never names a path the hub does not
serve, and a new route shows up at once (as an empty path item until it is described
in OPERATIONS).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.decorators.http import require_GET

import epitrace
from epitrace.hub.cases.api import REQUIRED_CASE_FIELDS, SEARCH_FIELDS
from epitrace.hub.exchange.openapi_ops import exchange_operations

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(*required: str, optional: tuple[str, ...] = ()) -> Json:
    properties = {name: {"type": "string"} for name in (*required, *optional)}
    schema: Json = {"type": "object", "properties": properties}
    if required:  # OpenAPI 3.0 (JSON Schema draft 4): "required" may not be empty
        schema["required"] = list(required)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: Json | None = None, status: str = "200") -> Json:
    content = {"application/json": {"schema": schema or {"type": "object"}}}
    return {status: {"description": description, "content": content}}


ERRORS: Json = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/NotSignedIn"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}
NOT_FOUND: Json = {"404": {"$ref": "#/components/responses/NotFound"}}


def _op(summary: str, responses: Json, body: Json | None = None, tag: str = "") -> Json:
    operation: Json = {"summary": summary, "responses": {**responses, **ERRORS}}
    if body is not None:
        operation["requestBody"] = body
    if tag:
        operation["tags"] = [tag]
    return operation


def _path_param(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


REASON = _body("reason")
OPERATIONS: dict[str, Json] = {
    "/api/csrf": {"get": _op("The CSRF token for API clients", _ok("token"), tag="sign-in")},
    "/api/login": {
        "post": _op(
            "Password step; answers which second-factor step follows",
            _ok("password accepted", _ref("LoginStep")),
            _body("username", "password"),
            "sign-in",
        )
    },
    "/api/otp/enrol": {
        "get": _op("First sign-in: the otpauth URI and its QR code", _ok("key"), tag="sign-in"),
        "post": _op(
            "Confirm the TOTP device; the recovery codes, shown once",
            _ok("enrolled", _ref("RecoveryCodes")),
            _body("token"),
            "sign-in",
        ),
    },
    "/api/otp/verify": {
        "post": _op("TOTP or recovery code", _ok("verified"), _body("token"), "sign-in")
    },
    "/api/otp/recovery-codes": {
        "post": _op("New recovery codes", _ok("codes", _ref("RecoveryCodes")), tag="sign-in")
    },
    "/api/logout": {"post": _op("Sign out", _ok("signed out"), tag="sign-in")},
    "/api/whoami": {"get": _op("The account and its role", _ok("account", _ref("Account")))},
    "/api/regions": {"get": _op("Regions in the account's jurisdiction", _ok("regions"))},
    "/api/regions/{code}": {
        "parameters": [_path_param("code")],
        "get": _op("One region", {**_ok("region", _ref("Region")), **NOT_FOUND}),
    },
    "/api/users": {
        "get": _op("Every account and its role (administrators)", _ok("users"), tag="admin"),
        "post": _op(
            "Create an account; its one-time password (generated, shown once) and, for a "
            "role that sees personal data, the grant awaiting a second administrator",
            _ok("created", _ref("Account"), "201"),
            _body("username", optional=("email", "role", "reason", "region", "agency")),
            "admin",
        ),
    },
    "/api/users/{username}/role": {
        "parameters": [_path_param("username")],
        "post": _op(
            "Grant or change the role (202: awaits a second administrator); never one's own",
            {**_ok("changed", _ref("Account")), **_ok("asked", status="202"), **NOT_FOUND},
            _body("role", "reason", optional=("region", "agency")),
            "admin",
        ),
    },
    "/api/users/{username}/password-reset": {
        "parameters": [_path_param("username")],
        "post": _op(
            "A new one-time password, shown once, to be changed at the next sign-in",
            {**_ok("reset"), **NOT_FOUND},
            tag="admin",
        ),
    },
    "/api/users/{username}/second-factor-reset": {
        "parameters": [_path_param("username")],
        "post": _op(
            "Remove the authenticator and recovery codes: it enrols again at the next "
            "sign-in; never one's own",
            {**_ok("reset"), **NOT_FOUND},
            tag="admin",
        ),
    },
    "/api/role-grants": {
        "get": _op("Role grants awaiting a second administrator", _ok("grants"), tag="admin")
    },
    "/api/role-grants/{pk}/approve": {
        "parameters": [_path_param("pk")],
        "post": _op(
            "Approve a grant (not its asker, not its holder)",
            {**_ok("approved"), **NOT_FOUND},
            tag="admin",
        ),
    },
    "/api/role-grants/{pk}/refuse": {
        "parameters": [_path_param("pk")],
        "post": _op("Refuse a grant", {**_ok("refused"), **NOT_FOUND}, REASON, "admin"),
    },
    "/api/account/password": {
        "post": _op(
            "Change one's own password (Django's validators)",
            _ok("changed"),
            _body("current", "new"),
            "sign-in",
        )
    },
    "/api/users/{username}/revoke": {
        "parameters": [_path_param("username")],
        "post": _op("Revoke the role", {**_ok("revoked"), **NOT_FOUND}, REASON, "admin"),
    },
    "/api/users/{username}/unlock": {
        "parameters": [_path_param("username")],
        "post": _op("Lift a lockout", _ok("unlocked"), tag="admin"),
    },
    "/api/users/{username}/role-history": {
        "parameters": [_path_param("username")],
        "get": _op("Every grant, change and revocation", _ok("history"), tag="audit"),
    },
    "/api/audit/entries": {
        "get": {
            **_op("Audit entries after a sequence number (auditors)", _ok("page"), tag="audit"),
            "parameters": [
                {"name": n, "in": "query", "schema": {"type": t}}
                for n, t in (
                    ("after", "integer"),
                    ("limit", "integer"),
                    ("actor", "string"),
                    ("action", "string"),
                )
            ],
        }
    },
    "/api/cases": {
        "get": _op("Cases in the account's jurisdiction (no identifiers)", _ok("cases")),
        "post": _op(
            "Register a confirmed case (investigators, in their jurisdiction)",
            _ok("registered", status="201"),
            {"required": True, "content": {"application/json": {"schema": _ref("NewCase")}}},
        ),
    },
    "/api/cases/search": {
        "post": _op(
            "Find cases (a POST body: identifiers never go into a query string)",
            _ok("cases"),
            _body(optional=SEARCH_FIELDS),
        )
    },
    "/api/cases/{case_id}": {
        "parameters": [_path_param("case_id")],
        "get": {
            **_op(
                "One case with its identifiers; the purpose is audited",
                {**_ok("case"), **NOT_FOUND},
            ),
            "parameters": [
                {"name": "purpose", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
        },
    },
    "/api/openapi.json": {"get": {"summary": "This schema", "responses": _ok("OpenAPI 3")}},
}
OPERATIONS.update(exchange_operations(_op, _ok, _body, _path_param, NOT_FOUND))
OPERATIONS["/api/retention"] = {
    "get": _op(
        "Retention settings and what will be destroyed when (counts per kind and date)",
        _ok("settings and schedule"),
        tag="retention",
    ),
    "post": _op(
        "Change the emergency's end or a retention period, with a reason (audited)",
        _ok("the new settings"),
        _body("reason", optional=("emergency_end",)),
        "retention",
    ),
}

COMPONENTS: Json = {
    "schemas": {
        "LoginStep": {
            "type": "object",
            "properties": {"second_factor": {"type": "string", "enum": ["verify", "enrol"]}},
        },
        "RecoveryCodes": {
            "type": "object",
            "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}}},
        },
        "Account": {
            "type": "object",
            "properties": {
                name: {"type": "string", "nullable": name != "username"}
                for name in ("username", "role", "region", "agency")
            },
        },
        "Region": {
            "type": "object",
            "description": "A 시군구 (5-digit code), which cases belong to, or a 시도 "
            "(2 digits), whose regional investigators see all its 시군구' cases",
            "properties": {
                "code": {"type": "string", "example": "27230"},
                "name": {"type": "string", "example": "대구광역시 북구"},
                "name_en": {"type": "string", "example": "Buk-gu, Daegu"},
                "level": {"type": "string", "enum": ["sido", "sigungu", "other"]},
                "sido": {"type": "string", "nullable": True, "example": "27"},
            },
        },
        "NewCase": {
            "type": "object",
            "required": list(REQUIRED_CASE_FIELDS),
            "properties": {
                **{
                    name: {"type": "string"}
                    for name in ("region", "name", "national_id", "address", "person_ref")
                },
                **{
                    name: {"type": "string", "format": "date"}
                    for name in (
                        "birth_date",
                        "onset_date",
                        "specimen_date",
                        "confirmation_date",
                        "isolation_date",
                    )
                },
                "phones": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            },
        },
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
    },
    "responses": {
        name: {
            "description": text,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for name, text in (
            ("BadRequest", "the body is not what the endpoint expects"),
            ("NotSignedIn", "not signed in, or the second factor not yet given"),
            ("Forbidden", "the role may never do this"),
            ("NotFound", "not found, or outside the account's jurisdiction (the same answer)"),
        )
    },
    "securitySchemes": {
        "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        "agentToken": {"type": "http", "scheme": "bearer"},
    },
}


def _converted(route: str) -> str:
    """Django's ``<slug:code>`` -> OpenAPI's ``{code}``."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def api_paths(patterns: list[Any] | None = None, prefix: str = "") -> list[str]:
    """Every route of the hub under /api, as OpenAPI paths."""
    found: list[str] = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += api_paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            found.append(_converted(route))
    return found


def build() -> Json:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "epitrace hub JSON API",
            "version": getattr(epitrace, "__version__", "0"),
            "description": "Every endpoint asks the one policy module; sign in with "
            "password then TOTP (session cookie), send X-CSRFToken from /api/csrf on POST.",
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}],
        "paths": {path: OPERATIONS.get(path, {}) for path in api_paths()},
        "components": COMPONENTS,
    }


@require_GET
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(build())
