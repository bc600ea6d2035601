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
from datetime import timedelta
from functools import cache

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

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


@cache
def _key_query() -> str:
    quote = connection.ops.quote_name
    return f"SELECT * FROM {quote(ApiKey._meta.db_table)} WHERE {quote('hashed_key')} = %s"


def _find_key(hashed: str) -> ApiKey | None:
    """The key with this hash. A raw query: it runs on every request of every API, and
    building it through the ORM cost more CPU than the rest of the lookup (bench/ingest.py)."""
    return next(iter(ApiKey.objects.raw(_key_query(), [hashed])), None)


def authenticate_key(raw_key: str) -> tuple[ApiKeyUser, ApiKey]:
    """Find the active key for `raw_key` (by its hash) and note that it was used."""
    api_key = _find_key(hash_api_key(raw_key))
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
