"""Messages a journey sends: emails, text messages and push notifications.

Every message shares one key space (a bundle names content by key alone), so the common
fields live in `Content` and each channel adds its own table (multi-table inheritance).
A journey step points at `Content`; `Content.specific` returns the channel's row.
"""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .designs.brand import FONTS, MAX_WIDTH, MIN_WIDTH, BrandStyle


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    TEXT = "text", "Text message"
    PUSH = "push", "Push notification"


class ContentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    READY = "ready", "Ready to send"


class Purpose(models.TextChoices):
    # Commercial messages need consent, an unsubscribe link and count toward frequency caps;
    # transactional ones (receipts, password resets) do not.
    COMMERCIAL = "commercial", "Commercial"
    TRANSACTIONAL = "transactional", "Transactional"


class Content(models.Model):
    key = models.SlugField(max_length=100, unique=True, help_text="Stable identifier used in journey bundles.")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, editable=False)
    status = models.CharField(max_length=10, choices=ContentStatus.choices, default=ContentStatus.DRAFT)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.COMMERCIAL)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "content"
        indexes = [models.Index(fields=["channel", "status"], name="content_channel_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.status == ContentStatus.READY

    @property
    def specific(self) -> "Content":
        """The channel's own row (Email, TextMessage or PushNotification)."""
        if type(self) is not Content:
            return self
        return getattr(self, CHANNEL_RELATION[self.channel])  # type: ignore[index]  # a Channel value (a str enum)


# A draft may be incomplete (saved half-written); Check content, not the form, says what is
# missing, all at once, before it can become Ready to send.


class Email(Content):
    subject = models.CharField(max_length=255, blank=True)
    preheader = models.CharField(max_length=255, blank=True, help_text="Preview text shown after the subject.")
    from_name = models.CharField(max_length=100, blank=True)
    from_email = models.CharField(max_length=254, blank=True, help_text="Sender address, e.g. shop@example.com.")
    reply_to = models.CharField(max_length=254, blank=True)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(blank=True, verbose_name="plain-text body")
    # The designer's blocks (content.designs); null for an email written in raw HTML. With a
    # design, html_body and (unless custom_text) text_body are rendered from it on every save.
    design = models.JSONField(null=True, blank=True)
    custom_text = models.BooleanField(
        default=False,
        verbose_name="write the plain-text part myself",
        help_text="Otherwise the plain-text part is generated from the design on every save.",
    )

    def save(self, *args, **kwargs):
        self.channel = Channel.EMAIL
        if self.design is not None:
            from .designing import apply_design

            apply_design(self)
        super().save(*args, **kwargs)

    @property
    def is_designed(self) -> bool:
        return self.design is not None


class TextMessage(Content):
    body = models.TextField(blank=True)
    sender = models.CharField(max_length=30, blank=True, help_text="Sender number or alphanumeric id.")

    def save(self, *args, **kwargs):
        self.channel = Channel.TEXT
        super().save(*args, **kwargs)


class PushNotification(Content):
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    link_url = models.CharField(max_length=500, blank=True, verbose_name="link")

    def save(self, *args, **kwargs):
        self.channel = Channel.PUSH
        super().save(*args, **kwargs)


_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1a73e8.")


class Brand(models.Model):
    """The brand every design is rendered with: one row, edited in the admin."""

    name = models.CharField(max_length=100, default="The Shop", help_text="Alt text of the logo.")
    logo_url = models.URLField(max_length=500, blank=True, help_text="Shown at the top of every designed email.")
    primary_color = models.CharField(
        max_length=7, validators=[_color], default="#1a73e8", help_text="Buttons and links, e.g. #1a73e8."
    )
    text_color = models.CharField(max_length=7, validators=[_color], default="#222222")
    background_color = models.CharField(
        max_length=7, validators=[_color], default="#f4f4f4", help_text="Around the email."
    )
    content_color = models.CharField(
        max_length=7, validators=[_color], default="#ffffff", help_text="Behind the blocks."
    )
    font = models.CharField(max_length=20, default="helvetica", choices=[(k, v) for k, v in FONTS.items()])
    width = models.PositiveSmallIntegerField(
        default=600,
        validators=[MinValueValidator(MIN_WIDTH), MaxValueValidator(MAX_WIDTH)],
        help_text=f"Pixels on a desktop ({MIN_WIDTH}-{MAX_WIDTH}); phones get the full screen width.",
    )

    class Meta:
        verbose_name = "brand"
        verbose_name_plural = "brand"

    def __str__(self) -> str:
        return self.name

    def style(self) -> BrandStyle:
        return BrandStyle(
            name=self.name,
            logo_url=self.logo_url,
            primary_color=self.primary_color,
            text_color=self.text_color,
            background_color=self.background_color,
            content_color=self.content_color,
            font=self.font,
            width=self.width,
        )


class DesignImage(models.Model):
    """An image uploaded in the designer, served to every mail client at /i/<key>.<ext>
    (kept in the database: no media storage to set up, and designs' images are small)."""

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=50)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or str(self.key)


# Django names the parent-to-child accessor after the child model.
CHANNEL_RELATION = {Channel.EMAIL: "email", Channel.TEXT: "textmessage", Channel.PUSH: "pushnotification"}
