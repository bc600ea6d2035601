from django.urls import path

from . import api, consent_api, contacts_api, tracking_views

app_name = "journeys"

urlpatterns = [
    path("t/o/<str:token>.gif", tracking_views.track_open, name="track-open"),
    path("t/c/<str:token>", tracking_views.track_click, name="track-click"),
    path("u/<str:token>", tracking_views.unsubscribe, name="unsubscribe"),
    path("webhooks/messages/status", tracking_views.provider_status, name="provider-status"),
    path("webhooks/twilio/status", tracking_views.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound", tracking_views.twilio_inbound, name="twilio-inbound"),
    path("api/v1/participants/", api.ParticipantList.as_view(), name="participants"),
    path("api/v1/contacts/<str:contact_id>/consent", consent_api.ContactConsentView.as_view(), name="contact-consent"),
    # Contacts API (issue 14): batch before {id}, so "batch" is never read as a contact id.
    path("api/v1/contacts/batch", contacts_api.ContactBatchView.as_view(), name="contacts-batch"),
    path("api/v1/contacts/<str:external_id>", contacts_api.ContactView.as_view(), name="contact"),
]
