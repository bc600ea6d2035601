"""The email designer's core: blocks as JSON, validated and rendered through MJML (pure)."""

from .blocks import BLOCKS
from .brand import DEFAULT_BRAND, FONTS, BrandStyle
from .design import (
    Design,
    RenderedDesign,
    blank_design,
    clean_design,
    design_errors,
    design_problems,
    design_text,
    render_design,
)
from .errors import DesignError, DesignProblem, InvalidDesign

__all__ = [
    "BLOCKS",
    "DEFAULT_BRAND",
    "FONTS",
    "BrandStyle",
    "Design",
    "DesignError",
    "DesignProblem",
    "InvalidDesign",
    "RenderedDesign",
    "blank_design",
    "clean_design",
    "design_errors",
    "design_problems",
    "design_text",
    "render_design",
]
