"""Public endpoints reached from messages and providers: the open pixel, tracked links, the
unsubscribe page and the signed status webhook. No login: the signed token is the authority."""

import base64
import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from content.backends import twilio
from triggers.validation import BadNumber, parse_float

from . import consent, tracking
from .models import Contact

# The smallest transparent GIF (1x1).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")


@never_cache
@require_http_methods(["GET", "HEAD"])
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    delivery_id = tracking.read_open_token(token)
    delivery = tracking.tracked_deliveries().filter(pk=delivery_id).first() if delivery_id else None
    if delivery is None:
        raise Http404("Unknown tracking link.")
    if request.method == "GET":  # a HEAD from a link checker is not an open
        tracking.record_open(delivery, user_agent=_user_agent(request))
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_http_methods(["GET", "HEAD"])
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    value = tracking.read_click_token(token)
    delivery = tracking.tracked_deliveries().filter(pk=value[0]).first() if value else None
    if delivery is None or value is None:
        raise Http404("Unknown tracking link.")
    if request.method == "GET":
        tracking.record_click(delivery, value[1], user_agent=_user_agent(request))
    # The target comes from inside the signed token (checked to be http(s)): never from the
    # query string, so this cannot be used as an open redirect.
    return HttpResponseRedirect(value[1])


@csrf_exempt  # mail clients POST the RFC 8058 one-click body without a CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    value = tracking.read_unsubscribe_token(token)
    contact = Contact.objects.filter(pk=value[1]).first() if value else None
    if contact is None or value is None:
        raise Http404("Unknown unsubscribe link.")
    channel = value[2]
    context = {"channel": channel, "token": token, "done": False}
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        source = consent.SOURCE_LIST_UNSUBSCRIBE if one_click else consent.SOURCE_UNSUBSCRIBE_PAGE
        consent.unsubscribe(contact, channel, source=f"{source} (delivery {value[0]})")
        context["done"] = True
    return render(request, "journeys/tracking/unsubscribe.html", context)


@csrf_exempt
@require_POST
def provider_status(request: HttpRequest) -> HttpResponse:
    """Status callbacks from SMS and push providers, signed with PROVIDER_WEBHOOK_SECRET."""
    signed = tracking.signature_is_valid(
        request.body, request.headers.get("X-Journeys-Signature", ""), request.headers.get("X-Journeys-Timestamp", "")
    )
    if not signed:
        return JsonResponse(
            {"X-Journeys-Signature": ["Missing or wrong signature, or a timestamp older than 5 minutes."]}, status=403
        )
    try:
        payload = json.loads(request.body or b"null", parse_float=parse_float, parse_constant=BadNumber)
    except (ValueError, RecursionError):
        return JsonResponse({"body": ["Not valid JSON."]}, status=400)
    try:
        delivery = tracking.apply_status_callback(payload)
    except tracking.WebhookError as error:
        return JsonResponse({error.field: [error.message]}, status=error.status)
    return JsonResponse({"delivery_id": delivery.pk, "status": "accepted"})


# Twilio wants TwiML back from an incoming-message webhook; an empty one sends no reply (with
# Advanced Opt-Out, Twilio itself confirms STOP and START).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio_request_is_signed(request: HttpRequest) -> bool:
    # Twilio signs the URL it was given (SITE_URL + path), not what a proxy forwards to us.
    url = settings.SITE_URL + request.get_full_path()
    params = {name: request.POST.get(name, "") for name in request.POST}
    return twilio.signature_is_valid(url, params, request.headers.get("X-Twilio-Signature", ""))


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback for a text we sent: delivered, or undelivered/failed."""
    if not _twilio_request_is_signed(request):
        return JsonResponse({"X-Twilio-Signature": ["Missing or wrong signature."]}, status=403)
    try:
        delivery = tracking.apply_twilio_status(request.POST.dict())
    except tracking.WebhookError as error:
        return JsonResponse({error.field: [error.message]}, status=error.status)
    if delivery is None:
        return JsonResponse({"MessageSid": ["No such message."]}, status=404)
    return JsonResponse({"delivery_id": delivery.pk, "status": "accepted"})


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Replies to our texts: STOP unsubscribes the number from commercial texts, START undoes it."""
    if not _twilio_request_is_signed(request):
        return JsonResponse({"X-Twilio-Signature": ["Missing or wrong signature."]}, status=403)
    consent.apply_text_reply(
        request.POST.get("From", ""), request.POST.get("Body", ""), opt_out_type=request.POST.get("OptOutType", "")
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
