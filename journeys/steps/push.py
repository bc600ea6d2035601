"""The push step: send a piece of push content (see journeys.steps.message)."""

from . import register
from .message import MessageKind


class PushKind(MessageKind):
    name = "push"
    label = "Push notification"
    help = "Send a push notification."
    icon = '<path d="M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z"/><path d="M10 20a2 2 0 0 0 4 0"/>'
    accent = "#805ad5"
    channel = "push"
    address = "contact.push_token"
    content_label = "Push notification to send"


register(PushKind())
