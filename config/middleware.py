"""Django's session, authentication and messages middleware, passed by on the ingest endpoints.

Those endpoints are called by websites' servers, hundreds of times a second, with an API key
and nothing else (triggers.api.views.IngestView: ApiKeyAuthentication only, no cookies, no
session, no messages). Those middleware did nothing for them but cost several per cent of the
request's CPU (docs/performance.md, issue 15). Every other page and API keeps them; the admin's
checks see the subclasses as the middleware they require. CSRF's stays Django's own on every
path: the deploy checks look for it by name (the ingest views are exempt from it anyway).
"""

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

# The paths of triggers.urls' ingest views (their URLs are the public API's, versioned).
INGEST_PATHS = ("/api/v1/events", "/api/segment/")


class _PassedByOnIngest(MiddlewareMixin):
    def __call__(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]  # sync only, as the project runs
        if request.path_info.startswith(INGEST_PATHS):
            return self.get_response(request)  # type: ignore[return-value]  # a sync stack's response
        return super().__call__(request)  # type: ignore[return-value]  # the Django middleware's


class SessionMiddleware(_PassedByOnIngest, DjangoSessionMiddleware):
    pass


class AuthenticationMiddleware(_PassedByOnIngest, DjangoAuthenticationMiddleware):
    pass


class MessageMiddleware(_PassedByOnIngest, DjangoMessageMiddleware):
    pass
