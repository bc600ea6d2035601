"""The API's request and response shapes, for the OpenAPI schema only.

Validation itself is in triggers.validation (pure functions against each trigger's typed
schema); these serializers describe the same shapes to drf-spectacular and its pages.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ContactSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255, help_text="Your own id for this customer.")
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False, help_text="E.164, e.g. +15551234567.")
    push_token = serializers.CharField(required=False)
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    time_zone = serializers.CharField(required=False, help_text="IANA name, e.g. Europe/Paris.")
    attributes = serializers.DictField(required=False, help_text="Extra contact attributes.")


class EventSerializer(serializers.Serializer):
    trigger = serializers.CharField(help_text="The trigger's key, e.g. abandoned_cart. Must be Ready to use.")
    event_id = serializers.CharField(
        required=False, max_length=200, help_text="Your unique id for the event: a retry is stored once."
    )
    contact = ContactSerializer()
    attributes = serializers.DictField(
        required=False, help_text="The trigger's attributes, checked against its typed schema."
    )
    timestamp = serializers.DateTimeField(required=False, help_text="When it happened (ISO 8601).")
    binding_id = serializers.CharField(
        required=False, max_length=255, help_text="Ties later triggers to one journey instance, e.g. cart/981."
    )


class BatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text="Up to 500 events.")


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path into the event, e.g. attributes.cart.currency.")
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)


class AcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)
    duplicate = serializers.BooleanField()


class ResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(["accepted", "duplicate", "conflict", "rejected", "ignored"])
    id = serializers.IntegerField(required=False)
    event_id = serializers.CharField(required=False, allow_null=True)
    errors = FieldErrorSerializer(many=True, required=False)


class BatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ResultSerializer(many=True)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class TextOrInteger(serializers.Field):
    """Segment ids: text, or a whole number some libraries send."""


class SegmentMessageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        ["track", "identify", "page", "screen", "group", "alias"],
        required=False,
        help_text="track and identify raise triggers; the others are answered and ignored.",
    )
    event = serializers.CharField(required=False, allow_null=True, help_text="Trigger key or display name (any case).")
    userId = TextOrInteger(help_text="Becomes contact.id.")
    messageId = TextOrInteger(required=False, allow_null=True, help_text="Becomes event_id.")
    properties = serializers.DictField(required=False, allow_null=True, help_text="Becomes the attributes.")
    traits = serializers.DictField(required=False, allow_null=True)
    context = serializers.DictField(required=False, allow_null=True)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)


class SegmentBatchSerializer(serializers.Serializer):
    batch = SegmentMessageSerializer(many=True)
