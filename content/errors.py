"""Errors a channel backend raises, so the sender knows whether trying again can help."""


class SendError(Exception):
    """A message could not be handed to its provider. `str(error)` is the reason recorded."""


class TransientSendError(SendError):
    """Worth trying again later: a timeout, a 5xx or 429 answer, a dropped connection."""


class PermanentSendError(SendError):
    """Trying again cannot help: a refused recipient, a 4xx answer, a gone subscription."""


class RecipientUnsubscribed(PermanentSendError):
    """The provider refuses because the recipient opted out with it (an SMS "STOP" reply):
    the sender records that as the contact's consent, not only as a failed message."""


class RenderError(Exception):
    """A template failed while rendering (it compiled, but a filter raised)."""
