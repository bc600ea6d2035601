"""Brand settings every design is rendered with (the admin keeps one row, see content.models.Brand)."""

import re
from dataclasses import dataclass

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
FONTS = {
    "helvetica": "Helvetica, Arial, sans-serif",
    "georgia": "Georgia, 'Times New Roman', serif",
    "verdana": "Verdana, Geneva, sans-serif",
    "trebuchet": "'Trebuchet MS', Tahoma, sans-serif",
    "courier": "'Courier New', Courier, monospace",
}
MIN_WIDTH, MAX_WIDTH = 480, 800


@dataclass(frozen=True)
class BrandStyle:
    name: str = "The Shop"
    logo_url: str = ""
    primary_color: str = "#1a73e8"  # buttons, links
    text_color: str = "#222222"
    background_color: str = "#f4f4f4"  # around the email
    content_color: str = "#ffffff"  # behind the blocks
    font: str = "helvetica"
    width: int = 600

    @property
    def font_family(self) -> str:
        return FONTS.get(self.font, FONTS["helvetica"])


DEFAULT_BRAND = BrandStyle()
