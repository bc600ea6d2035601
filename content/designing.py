"""Designs meet the database: the brand's row, and an email's HTML and text rendered from its
design (called by Email.save, so every writer, the admin, bundles and the seed, agrees)."""

from django.db import transaction

from .designs import BrandStyle, InvalidDesign, clean_design, render_design
from .designs.brand import DEFAULT_BRAND
from .models import Brand, Email, Purpose


def brand_style() -> BrandStyle:
    brand = Brand.objects.order_by("pk").first()
    return brand.style() if brand else DEFAULT_BRAND


def apply_design(email: Email, brand: BrandStyle | None = None) -> None:
    """Render `email.design` into html_body (and text_body unless custom_text). An invalid
    design renders nothing: Check content then reports it (a draft may be half-written)."""
    try:
        design = clean_design(email.design)
    except InvalidDesign:
        email.html_body = ""
        return
    email.design = design
    rendered = render_design(design, brand or brand_style(), commercial=email.purpose == Purpose.COMMERCIAL)
    email.html_body = rendered.html
    if not email.custom_text:
        email.text_body = rendered.text


def rerender_designs() -> int:
    """After the brand changed: every designed email rendered again; returns how many."""
    brand = brand_style()
    count = 0
    with transaction.atomic():
        for email in Email.objects.filter(design__isnull=False).select_for_update():
            apply_design(email, brand)
            Email.objects.filter(pk=email.pk).update(html_body=email.html_body, text_body=email.text_body)
            count += 1
    return count
