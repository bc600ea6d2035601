"""A chunk of deliveries is claimed and loaded at once and its emails share one SMTP
session; each is still sent at most once, and a refusal mid-chunk costs only that email."""

from journeys.models import Delivery, DeliveryStatus
from journeys.sending import dispatch_deliveries

from .test_smtp_journey_email import Inbox, smtp_server  # noqa: F401 (a fixture)


class CountingInbox(Inbox):
    """Records the SMTP session of each message, and refuses Ben's for now."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[int] = []

    async def handle_DATA(self, server, session, envelope):
        if envelope.rcpt_tos == ["ben@example.com"]:
            return "451 4.3.0 Try again later"
        self.sessions.append(id(session))
        return await super().handle_DATA(server, session, envelope)


def test_a_chunk_shares_one_session_and_a_refusal_costs_only_its_email(smtp_server, three_deliveries):  # noqa: F811
    smtp_server.__class__ = CountingInbox
    smtp_server.sessions = []
    ids = [d.pk for d in three_deliveries]

    dispatch_deliveries(ids)
    dispatch_deliveries(ids)  # a task run twice sends nothing more

    assert sorted(rcpt[0] for rcpt, _ in smtp_server.messages) == ["ana@example.com", "cy@example.com"]
    # Ana's email opened the session; Ben's refusal closed it; Cy's opened a new one.
    assert len(set(smtp_server.sessions)) == 2
    statuses = dict(Delivery.objects.filter(pk__in=ids).values_list("address", "status"))
    assert statuses == {
        "ana@example.com": DeliveryStatus.SENT,
        "ben@example.com": DeliveryStatus.QUEUED,  # to be retried after its back-off
        "cy@example.com": DeliveryStatus.SENT,
    }
    assert Delivery.objects.get(address="ben@example.com").attempts == 1


def test_without_errors_the_whole_chunk_goes_through_one_session(smtp_server, three_deliveries):  # noqa: F811
    Delivery.objects.filter(address="ben@example.com").update(address="bea@example.com")
    smtp_server.__class__ = CountingInbox
    smtp_server.sessions = []

    dispatch_deliveries([d.pk for d in three_deliveries])

    assert len(smtp_server.messages) == 3
    assert len(set(smtp_server.sessions)) == 1
