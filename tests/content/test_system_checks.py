"""Channel settings that cannot work stop the project at start-up."""

from django.test import override_settings

from content.system_checks import check_channel_backends


def _ids() -> list[str]:
    return [problem.id for problem in check_channel_backends()]


def test_the_default_backends_pass():
    assert _ids() == []


@override_settings(TEXT_BACKEND="content.backends.nowhere.Backend")
def test_a_backend_that_cannot_be_imported_is_an_error():
    assert _ids() == ["content.E001"]


@override_settings(
    TEXT_BACKEND="content.backends.twilio.TwilioTextBackend",
    TWILIO_ACCOUNT_SID="",
    TWILIO_AUTH_TOKEN="",
    TWILIO_FROM="",
    SITE_URL="https://journeys.example.com",
)
def test_twilio_without_credentials_or_sender_is_reported():
    assert _ids() == ["content.E002", "content.W001"]


@override_settings(
    TEXT_BACKEND="content.backends.twilio.TwilioTextBackend",
    TWILIO_ACCOUNT_SID="AC1",
    TWILIO_AUTH_TOKEN="token",
    TWILIO_FROM="+15550000000",
    SITE_URL="http://127.0.0.1:8000",
)
def test_twilio_with_a_site_url_it_cannot_reach_safely_is_warned():
    assert _ids() == ["content.W003"]


@override_settings(PUSH_BACKEND="content.backends.webpush.WebPushBackend", WEBPUSH_VAPID_PRIVATE_KEY="")
def test_web_push_without_a_vapid_key_is_an_error():
    assert _ids() == ["content.E003"]


@override_settings(DEBUG=False, PROVIDER_WEBHOOK_SECRET="")
def test_a_deployment_without_a_webhook_secret_is_warned():
    assert _ids() == ["content.W002"]
