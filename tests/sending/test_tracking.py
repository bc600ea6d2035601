"""Open pixel and tracked links: signed tokens, every interaction recorded, each trigger once."""

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from journeys.models import Delivery, DeliveryStatus, Interaction
from journeys.tracking import (
    CLICK_SALT,
    OPEN_SALT,
    UNSUBSCRIBE_SALT,
    _signed,
    click_url,
    open_url,
    record_delivered,
    unsubscribe_url,
)
from triggers.models import Event

INTERNAL = Event.objects.filter(source="internal")  # interaction triggers, not the cart event


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def _sent(make_delivery, content):
    delivery = make_delivery(content)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT)
    return delivery


def test_the_pixel_is_a_gif_that_is_never_cached(make_delivery, email, client):
    delivery = _sent(make_delivery, email)

    response = client.get(_path(open_url(delivery.pk)))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_repeated_opens_are_all_recorded_but_raise_the_trigger_once(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    url = _path(open_url(delivery.pk))

    for _ in range(3):
        assert client.get(url, HTTP_USER_AGENT="Mail/1.0").status_code == 200

    assert Interaction.objects.filter(delivery=delivery, kind="open").count() == 3
    assert Interaction.objects.filter(delivery=delivery).first().user_agent == "Mail/1.0"
    events = INTERNAL.filter(trigger__key="email_opened")
    assert [e.event_id for e in events] == [f"email_opened:{delivery.pk}"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.OPENED


def test_a_click_without_a_seen_open_counts_as_the_open_too(make_delivery, email, client):
    delivery = _sent(make_delivery, email)

    response = client.get(_path(click_url(delivery.pk, "https://shop.example.com/cart")))

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/cart"
    assert sorted(INTERNAL.values_list("trigger__key", flat=True)) == ["email_clicked", "email_opened"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CLICKED
    assert delivery.opened_at == delivery.clicked_at


def test_clicks_on_two_links_raise_email_clicked_once_with_the_first_url(make_delivery, email, client):
    delivery = _sent(make_delivery, email)

    client.get(_path(click_url(delivery.pk, "https://shop.example.com/a")))
    client.get(_path(click_url(delivery.pk, "https://shop.example.com/b")))

    assert list(Interaction.objects.filter(kind="click").order_by("id").values_list("url", flat=True)) == [
        "https://shop.example.com/a",
        "https://shop.example.com/b",
    ]
    [clicked] = INTERNAL.filter(trigger__key="email_clicked")
    assert clicked.attributes["url"] == "https://shop.example.com/a"


def test_an_open_after_a_click_does_not_move_the_status_back(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    client.get(_path(click_url(delivery.pk, "https://shop.example.com/cart")))

    client.get(_path(open_url(delivery.pk)))
    record_delivered(Delivery.objects.get(pk=delivery.pk))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CLICKED
    assert delivery.delivered_at is not None


def _assert_nothing_recorded():
    assert Interaction.objects.count() == 0
    assert INTERNAL.count() == 0


def test_a_tampered_open_token_answers_404_and_raises_nothing(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    url = _path(open_url(delivery.pk))
    token = url.removeprefix("/t/o/").removesuffix(".gif")
    payload, rest = token.split(":", 1)
    forged = signing.b64_encode(f'{{"d":{delivery.pk + 1}}}'.encode()).decode()

    assert client.get(f"/t/o/{forged}:{rest}.gif").status_code == 404
    assert client.get(f"/t/o/{payload}:{rest[:-2]}xx.gif").status_code == 404
    assert client.get(f"/t/o/{delivery.pk}.gif").status_code == 404
    _assert_nothing_recorded()


def test_a_token_signed_for_another_purpose_is_refused(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    click_token = _path(click_url(delivery.pk, "https://shop.example.com/")).removeprefix("/t/c/")

    assert client.get(f"/t/o/{click_token}.gif").status_code == 404
    _assert_nothing_recorded()


def test_a_click_token_cannot_be_changed_to_redirect_elsewhere(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    token = _path(click_url(delivery.pk, "https://shop.example.com/")).removeprefix("/t/c/")
    forged = signing.dumps({"d": delivery.pk, "u": "https://evil.example.net/"}, salt="another-salt", compress=True)

    assert client.get(f"/t/c/{forged}").status_code == 404
    assert client.get(f"/t/c/{token}?next=https://evil.example.net/")["Location"] == "https://shop.example.com/"
    assert INTERNAL.filter(trigger__key="email_clicked").count() == 1


def test_a_signed_link_to_a_non_web_scheme_is_refused(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    token = signing.dumps({"d": delivery.pk, "u": "javascript:alert(1)"}, salt=CLICK_SALT, compress=True)

    assert client.get(f"/t/c/{token}").status_code == 404
    _assert_nothing_recorded()


def test_a_token_for_a_deleted_delivery_answers_404(make_delivery, email, client):
    delivery = _sent(make_delivery, email)
    url = _path(open_url(delivery.pk))
    delivery.delete()

    assert client.get(url).status_code == 404
    assert INTERNAL.count() == 0


def test_a_link_checker_fetching_head_records_nothing_and_raises_nothing(make_delivery, email, client):
    delivery = _sent(make_delivery, email)

    pixel = client.head(_path(open_url(delivery.pk)))
    link = client.head(_path(click_url(delivery.pk, "https://shop.example.com/cart")))

    assert (pixel.status_code, link.status_code, link["Location"]) == (200, 302, "https://shop.example.com/cart")
    assert not Interaction.objects.exists()
    assert not INTERNAL.exists()
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


def test_tapping_a_push_opens_its_link_through_tracking_and_raises_push_opened_once(make_delivery, push, client):
    from content.backends import common
    from journeys.sending import dispatch_delivery

    delivery = make_delivery(push, address='{"endpoint": "https://push.example.com/x"}')
    dispatch_delivery(delivery.pk)
    [sent] = common.push_outbox
    assert sent.link_url.startswith("http://testserver/t/c/")

    for _ in range(2):
        response = client.get(_path(sent.link_url))
        assert (response.status_code, response["Location"]) == (302, "https://shop.example.com/cart")

    assert [(e.trigger.key, e.attributes["delivery_id"]) for e in INTERNAL.all()] == [("push_opened", str(delivery.pk))]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CLICKED and delivery.opened_at is not None


def test_tracking_and_unsubscribe_links_expire(make_delivery, email, client, settings):
    delivery = _sent(make_delivery, email)
    links = [
        _path(open_url(delivery.pk)),
        _path(click_url(delivery.pk, "https://shop.example.com/cart")),
        _path(unsubscribe_url(delivery.pk, delivery.contact_id, "email")),
    ]
    tracking_age, unsubscribe_age = settings.TRACKING_LINK_MAX_AGE, settings.UNSUBSCRIBE_LINK_MAX_AGE

    with time_machine.travel(timezone.now() + timedelta(seconds=tracking_age + 60)):
        assert [client.get(link).status_code for link in links] == [404, 404, 200]
    with time_machine.travel(timezone.now() + timedelta(seconds=unsubscribe_age + 60)):
        assert client.get(links[2]).status_code == 404
    _assert_nothing_recorded()


def test_tracking_links_are_the_paths_reverse_gives(db, settings):
    """The links are built around a token reversed once (journeys.tracking._path): the same
    as reverse() for every token signing makes, under a script prefix too."""
    from django.urls import reverse, set_script_prefix

    settings.SITE_URL = "https://journeys.example.com"
    cases = [
        (open_url(7), "journeys:track-open"),
        (click_url(7, "https://shop.example.com/a?b=1&c=ä"), "journeys:track-click"),
        (unsubscribe_url(7, 8, "email"), "journeys:unsubscribe"),
    ]
    for url, name in cases:
        token = url.rsplit("/", 1)[1].removesuffix(".gif")
        assert url == settings.SITE_URL + reverse(name, args=[token])
    try:
        set_script_prefix("/mounted/")
        assert open_url(7).startswith("https://journeys.example.com/mounted/t/o/")
    finally:
        set_script_prefix("/")
    assert open_url(7).startswith("https://journeys.example.com/t/o/")


@pytest.mark.parametrize(
    "value, salt, compress",
    [
        ({"d": 7}, OPEN_SALT, False),
        ({"d": 7, "u": "https://shop.example.com/a?b=1&c=ä" + "x" * 200}, CLICK_SALT, True),
        ({"d": 7, "u": "https://s.example/"}, CLICK_SALT, True),  # too short to gain from zlib
        ({"d": 2**40, "c": 8, "ch": "email"}, UNSUBSCRIBE_SALT, False),
    ],
)
def test_tokens_are_the_ones_django_signing_makes(value, salt, compress, settings):
    """journeys.tracking._signed keeps the keyed HMAC per salt and key: the same token as
    signing.dumps, with another SECRET_KEY too, and read back by signing.loads."""
    with time_machine.travel(timezone.now(), tick=False):
        assert _signed(value, salt, compress) == signing.dumps(value, salt=salt, compress=compress)
        settings.SECRET_KEY = "another key, as after a rotation" * 2
        token = _signed(value, salt, compress)
        assert token == signing.dumps(value, salt=salt, compress=compress)
    assert signing.loads(token, salt=salt) == value
