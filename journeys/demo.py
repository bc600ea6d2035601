"""The seed scenario's triggers and content: what `make run` loads on a fresh database.

Rows are created by key and never overwritten, so a marketer's edits survive `make run`.
"""

from content.models import ContentStatus, Email, PushNotification, TextMessage
from triggers.models import AttributeType, Trigger, TriggerAttribute, TriggerStatus

TRIGGERS = [
    {
        "key": "abandoned_cart",
        "name": "Abandoned cart",
        "description": "The customer added products to the cart but did not finish the purchase.",
        "attributes": [
            ("cart_total", AttributeType.NUMBER, True, "Value of the cart."),
            ("cart", AttributeType.OBJECT, False, "The cart's details."),
            ("cart.items", AttributeType.NUMBER, False, "Number of items in the cart."),
            ("cart.currency", AttributeType.TEXT, False, "ISO currency code."),
            ("cart_url", AttributeType.TEXT, False, "Link back to the cart."),
        ],
    },
    {
        "key": "purchase_completed",
        "name": "Purchase completed",
        "description": "The customer finished a purchase.",
        "attributes": [("order_total", AttributeType.NUMBER, False, "Value of the order.")],
    },
]

EMAIL = {
    "key": "initial-email-reminder",
    "name": "Initial email reminder",
    "subject": "{{ contact.first_name|default:'Hi there' }}, you left something in your cart",
    "from_name": "The Shop",
    "from_email": "shop@example.com",
    "html_body": (
        "<p>Hello {{ contact.first_name|default:'there' }},</p>"
        "<p>Your cart worth {{ trigger.cart_total }} is waiting for you.</p>"
        '<p><a href="https://shop.example.com/cart">Finish your purchase</a></p>'
        '<p><small><a href="{{ unsubscribe_url }}">Unsubscribe</a></small></p>'
    ),
    "text_body": (
        "Hello {{ contact.first_name|default:'there' }},\n\n"
        "Your cart worth {{ trigger.cart_total }} is waiting for you: https://shop.example.com/cart\n\n"
        "Unsubscribe: {{ unsubscribe_url }}\n"
    ),
}
TEXT = {
    "key": "second-text-reminder",
    "name": "Second text reminder",
    "body": "Your cart is still waiting: https://shop.example.com/cart Reply STOP to opt out.",
}
PUSH = {
    "key": "final-push-notification",
    "name": "Final push notification",
    "title": "Still thinking it over?",
    "body": "Your cart is about to expire. Complete your purchase today.",
    "link_url": "https://shop.example.com/cart",
}


def load_demo() -> list[str]:
    """Create whatever of the demo is missing; return what was created."""
    created = []
    for spec in TRIGGERS:
        trigger, was_created = Trigger.objects.get_or_create(
            key=spec["key"],
            defaults={"name": spec["name"], "description": spec["description"], "status": TriggerStatus.READY},
        )
        if was_created:
            created.append(f"trigger {trigger.key}")
            TriggerAttribute.objects.bulk_create(
                TriggerAttribute(
                    trigger=trigger, name=name, type=type_, required=required, description=description, position=i
                )
                for i, (name, type_, required, description) in enumerate(spec["attributes"])
            )
    for model, spec in ((Email, EMAIL), (TextMessage, TEXT), (PushNotification, PUSH)):
        fields = {k: v for k, v in spec.items() if k != "key"}
        _, was_created = model.objects.get_or_create(
            key=spec["key"], defaults={**fields, "status": ContentStatus.READY}
        )
        if was_created:
            created.append(f"content {spec['key']}")
    return created
