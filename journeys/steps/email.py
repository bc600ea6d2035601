"""The email step: send a piece of email content (see journeys.steps.message)."""

from . import register
from .message import MessageKind


class EmailKind(MessageKind):
    name = "email"
    label = "Email"
    help = "Send an email."
    icon = '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3 7l9 6 9-6"/>'
    accent = "#417690"
    channel = "email"
    address = "contact.email"
    content_label = "Email to send"


register(EmailKind())
