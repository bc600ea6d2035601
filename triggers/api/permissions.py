"""Scope permissions for API keys, shared by every app's REST endpoints.

A key has one scope. Websites get `events:write` (raise triggers); reporting tools get
`read` (the read APIs). Use with `triggers.api.authentication.ApiKeyAuthentication`.
"""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from triggers.models import ApiKey, ApiKeyScope


class HasScope(BasePermission):
    """Allows requests authenticated by an active API key with `scope`."""

    scope: str = ""

    @property
    def message(self) -> str:
        return f"This API key lacks the {self.scope!r} scope."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.is_active and request.auth.scope == self.scope


class HasEventsWriteScope(HasScope):
    scope = ApiKeyScope.EVENTS_WRITE.value


class HasReadScope(HasScope):
    scope = ApiKeyScope.READ.value
