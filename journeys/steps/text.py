"""The text step: send a piece of text content (see journeys.steps.message)."""

from . import register
from .message import MessageKind


class TextKind(MessageKind):
    name = "text"
    label = "Text message"
    help = "Send a text message."
    icon = '<path d="M4 5h16v11H9l-5 4z"/><path d="M8 10h8"/>'
    accent = "#2f855a"
    channel = "text"
    address = "contact.phone"
    content_label = "Text message to send"


register(TextKind())
