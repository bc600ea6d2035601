"""/health/live, /health/ready, /health/engine and /metrics, answered by a middleware.

They sit in front of everything (ALLOWED_HOSTS, sessions, login): a probe calls a node by
its address, not by the site's name, and must get an answer even when the rest is broken.
None of them says anything about contacts. /metrics needs METRICS_TOKEN (a bearer token) or
an address in METRICS_ALLOWED_IPS; with neither set it answers 404.
"""

import hmac
import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

EVENTS_API = "/api/v1/events"


def live(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> HttpResponse:
    from .health import database_reachable, redis_reachable

    problems = [problem for problem in (database_reachable(), redis_reachable()) if problem]
    return JsonResponse(
        {"status": "unavailable" if problems else "ok", "problems": problems}, status=503 if problems else 200
    )


def engine(request: HttpRequest) -> HttpResponse:
    from .health import database_reachable, engine_health

    problem = database_reachable()
    if problem:
        return JsonResponse({"status": "stalled", "reasons": [problem]}, status=503)
    health = engine_health()
    return HttpResponse(
        json.dumps(health.as_json()),
        content_type="application/json",
        status=503 if health.status == "stalled" else 200,
    )


def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        return HttpResponse(status=404)
    from prometheus_client import CONTENT_TYPE_LATEST

    from .metrics import render

    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


def _may_scrape(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), token.encode()):
            return True
    return request.META.get("REMOTE_ADDR") in getattr(settings, "METRICS_ALLOWED_IPS", [])


ROUTES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": live,
    "/health/ready": ready,
    "/health/engine": engine,
    "/metrics": metrics,
}


class HealthMiddleware:
    """First in MIDDLEWARE: answers the routes above (GET/HEAD) and counts the event API's
    answers by status code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ROUTES.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        response = self.get_response(request)
        if request.path_info.startswith(EVENTS_API):
            from .metrics import EVENT_REQUESTS

            EVENT_REQUESTS.labels(code=str(response.status_code)).inc()
        return response
