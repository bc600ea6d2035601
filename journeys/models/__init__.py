from .contacts import Consent, ConsentChange, ConsentStatus, Contact, Segment
from .deliveries import (
    BlockReason,
    Delivery,
    DeliveryStatus,
    Interaction,
    InteractionKind,
    SendingPolicy,
)
from .journeys import (
    MESSAGE_KINDS,
    Journey,
    JourneyStatus,
    JourneyType,
    JourneyVersion,
    RepeatPolicy,
    Step,
    StepKind,
    VersionState,
)
from .participants import ONCE_EVER, HistoryOutcome, Participant, ParticipantHistory, ParticipantState

__all__ = [
    "MESSAGE_KINDS",
    "ONCE_EVER",
    "BlockReason",
    "Consent",
    "ConsentChange",
    "ConsentStatus",
    "Contact",
    "Delivery",
    "DeliveryStatus",
    "HistoryOutcome",
    "Interaction",
    "InteractionKind",
    "Journey",
    "JourneyStatus",
    "JourneyType",
    "JourneyVersion",
    "Participant",
    "ParticipantHistory",
    "ParticipantState",
    "RepeatPolicy",
    "Segment",
    "SendingPolicy",
    "Step",
    "StepKind",
    "VersionState",
]
