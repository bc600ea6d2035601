"""The designs a marketer can start from: blank, or one of these shipped templates."""

from dataclasses import dataclass

from .design import DESIGN_VERSION, Design


@dataclass(frozen=True)
class Starter:
    key: str
    name: str
    subject: str
    preheader: str
    design: Design


def _design(*blocks: dict) -> Design:
    return {"version": DESIGN_VERSION, "blocks": list(blocks)}


FOOTER = {"type": "footer", "text": "The Shop · 1 Market Street, Lisbon", "unsubscribe_label": "Unsubscribe"}

STARTERS: dict[str, Starter] = {
    starter.key: starter
    for starter in (
        Starter(
            key="abandoned-cart",
            name="Abandoned cart",
            subject="You left something in your cart",
            preheader="Your cart is saved: finish your purchase in one click.",
            design=_design(
                {"type": "heading", "text": "Hello,", "level": 1, "align": "left"},
                {"type": "text", "html": "<p>Your cart is waiting for you.</p>"},
                {
                    "type": "button",
                    "label": "Finish your purchase",
                    "href": "https://shop.example.com/cart",
                    "background": "",
                    "color": "",
                    "align": "left",
                },
                FOOTER,
            ),
        ),
        Starter(
            key="welcome",
            name="Welcome",
            subject="Welcome to The Shop",
            preheader="Thanks for joining: here is what happens next.",
            design=_design(
                {"type": "heading", "text": "Welcome!", "level": 1, "align": "center"},
                {
                    "type": "text",
                    "html": "<p>Thanks for joining us. Here is what you can expect:</p>"
                    "<ul><li>New arrivals first</li><li>Members-only offers</li><li>Free returns</li></ul>",
                },
                {
                    "type": "button",
                    "label": "Start shopping",
                    "href": "https://shop.example.com/",
                    "background": "",
                    "color": "",
                    "align": "center",
                },
                {"type": "divider"},
                {
                    "type": "social",
                    "links": {
                        "facebook": "",
                        "instagram": "https://instagram.com/",
                        "x": "",
                        "linkedin": "",
                        "youtube": "",
                    },
                },
                FOOTER,
            ),
        ),
        Starter(
            key="order-follow-up",
            name="Order follow-up",
            subject="How is your order?",
            preheader="Tell us what you think in two minutes.",
            design=_design(
                {"type": "heading", "text": "Thank you for your order", "level": 1, "align": "left"},
                {"type": "text", "html": "<p>We hope you enjoy it. Would you tell us how it went?</p>"},
                {
                    "type": "columns",
                    "columns": [
                        {
                            "blocks": [
                                {
                                    "type": "text",
                                    "html": "<p><strong>Love it?</strong> Leave a review and help other shoppers.</p>",
                                }
                            ]
                        },
                        {
                            "blocks": [
                                {
                                    "type": "text",
                                    "html": "<p><strong>Not quite right?</strong> Returns are free for 30 days.</p>",
                                }
                            ]
                        },
                    ],
                },
                {
                    "type": "button",
                    "label": "Write a review",
                    "href": "https://shop.example.com/reviews",
                    "background": "",
                    "color": "",
                    "align": "center",
                },
                FOOTER,
            ),
        ),
    )
}
