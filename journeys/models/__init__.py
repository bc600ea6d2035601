from .contacts import Consent, ConsentChange, ConsentStatus, Contact, Segment, SegmentKind, SegmentMembership
from .deliveries import (
    BlockReason,
    Delivery,
    DeliveryStatus,
    Interaction,
    InteractionKind,
    SendingPolicy,
)
from .engine import Heartbeat
from .entries import HeldEntry, SegmentEntry
from .journeys import (
    MESSAGE_KINDS,
    Journey,
    JourneyStatus,
    JourneyType,
    JourneyVersion,
    RepeatPolicy,
    SegmentMode,
    Step,
    StepKind,
    VersionState,
)
from .participants import ONCE_EVER, HistoryOutcome, Participant, ParticipantGroup, ParticipantHistory, ParticipantState

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
    "Heartbeat",
    "HeldEntry",
    "HistoryOutcome",
    "Interaction",
    "InteractionKind",
    "Journey",
    "JourneyStatus",
    "JourneyType",
    "JourneyVersion",
    "Participant",
    "ParticipantGroup",
    "ParticipantHistory",
    "ParticipantState",
    "RepeatPolicy",
    "Segment",
    "SegmentEntry",
    "SegmentKind",
    "SegmentMembership",
    "SegmentMode",
    "SendingPolicy",
    "Step",
    "StepKind",
    "VersionState",
]
