"""API key authentication for every REST endpoint of the product.

`ApiKeyAuthentication` reads `Authorization: Bearer <key>`; `SegmentWriteKeyAuthentication`
reads HTTP Basic with the key as user name (how Segment's libraries send their write key).
Both set `request.auth` to the `ApiKey` and `request.user` to an `ApiKeyUser`; scopes are
checked by the permissions in `triggers.api.permissions`. Other apps' read APIs use them as:

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasReadScope]
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models.expressions import Col
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from triggers.caching import API_KEYS
from triggers.models import ApiKey, hash_api_key

# last_used_at is for people ("is this key still in use?"): a minute's precision is plenty,
# and it saves a write on every request of the hot path.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyUser(AnonymousUser):
    """The caller of an API key: not a person, but authenticated (DRF's IsAuthenticated passes)."""

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


@dataclass(frozen=True)
class _KeyQuery:
    sql: str
    attnames: list[str]
    # (column index, converters, column) for columns the backend returns in another type
    # (SQLite's datetimes and booleans); PostgreSQL needs none.
    converters: list[tuple[int, list[Callable[..., Any]], Col]]


@cache
def _key_query() -> _KeyQuery:
    quote = connection.ops.quote_name
    table = ApiKey._meta.db_table
    fields = ApiKey._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(table)
        functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)  # type: ignore[attr-defined]  # Field has it; the stubs do not
        if functions:
            converters.append((index, functions, column))
    columns = ", ".join(quote(field.column) for field in fields)
    sql = f"SELECT {columns} FROM {quote(table)} WHERE {quote('hashed_key')} = %s"
    return _KeyQuery(sql, [field.attname for field in fields], converters)


def _find_key(hashed: str) -> ApiKey | None:
    """The key with this hash, from the database. A cursor and `from_db`: it runs on every
    request without Redis, and a RawQuerySet cost twice the CPU (230 -> 120 µs)."""
    query = _key_query()
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [hashed])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, functions, column in query.converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    return ApiKey.from_db(connection.alias, query.attnames, values)


def authenticate_key(raw_key: str) -> tuple[ApiKeyUser, ApiKey]:
    """Find the active key for `raw_key` (by its hash) and note that it was used.

    The key comes from this process's cache when no key changed since it was loaded
    (triggers.caching: a revocation is seen by every process from the next request on with
    Redis, within a second without it, and at once by the process that revoked).
    The ApiKey returned may be shared by concurrent requests: nothing but this function
    (its last_used_at) may change it.
    """
    api_key = API_KEYS.get(hash_api_key(raw_key), _find_key)
    if api_key is None:
        raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
    if api_key.revoked_at is not None:
        raise exceptions.AuthenticationFailed(
            f"This API key was revoked on {api_key.revoked_at:%Y-%m-%d %H:%M} UTC.", code="revoked_api_key"
        )
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_PRECISION:
        # Conditional, so that of many processes seeing a stale time only one writes.
        ApiKey.objects.filter(pk=api_key.pk, last_used_at=api_key.last_used_at).update(last_used_at=now)
        api_key.last_used_at = now
    return ApiKeyUser(api_key), api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`. Without the header the request is anonymous (then 401)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>'.", code="malformed_authorization"
            )
        try:
            raw_key = header[1].decode()
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key") from error
        return authenticate_key(raw_key)

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class SegmentWriteKeyAuthentication(authentication.BaseAuthentication):
    """HTTP Basic with the API key as user name and an empty password (Segment's write key)."""

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        try:
            user_name = (
                base64.b64decode(header[1], validate=True).decode().partition(":")[0] if len(header) == 2 else ""
            )
        except (binascii.Error, UnicodeDecodeError):
            user_name = ""
        if not user_name:
            raise exceptions.AuthenticationFailed(
                "Send the write key as the HTTP Basic user name.", code="malformed_authorization"
            )
        return authenticate_key(user_name)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="segment"'


def event_source(api_key: ApiKey) -> str:
    """Event ids are unique per source: the key's source if set, else the key itself."""
    return api_key.source or f"key:{api_key.prefix}"
