"""A design: validate its JSON, list its problems, render it to email HTML and plain text.

design -> MJML -> HTML (mrml, no Node) -> CSS inlined (css-inline) -> template expressions
restored. Every step is a pure function of the design and the brand: the same design
renders to the same bytes every time, so the stored HTML changes only when the design does.
"""

import re
from dataclasses import dataclass
from typing import Any

import css_inline
import mrml

from .blocks import BLOCKS, UNSUBSCRIBE_EXPRESSION, Block, RenderContext, _Cleaner
from .brand import DEFAULT_BRAND, BrandStyle
from .errors import DesignError, DesignProblem, InvalidDesign

DESIGN_VERSION = 1
MAX_BLOCKS = 100
IMAGE_HEAVY_WORDS = 50  # fewer words than this per image reads as an image-only email to spam filters

Design = dict[str, Any]


def blank_design() -> Design:
    return {"version": DESIGN_VERSION, "blocks": []}


def clean_blocks(blocks: Any, path: str, errors: list[DesignError], *, nested: bool = False) -> list[Block]:
    if not isinstance(blocks, list):
        errors.append(DesignError(path, "type", "must be a list of blocks"))
        return []
    if len(blocks) > MAX_BLOCKS:
        errors.append(DesignError(path, "too_many", f"at most {MAX_BLOCKS} blocks"))
        return []
    cleaned = []
    for i, data in enumerate(blocks):
        block_path = f"{path}[{i}]"
        kind = BLOCKS.get(data.get("type")) if isinstance(data, dict) else None  # type: ignore[arg-type]  # any other type just misses
        if kind is None:
            errors.append(DesignError(f"{block_path}.type", "unknown", f"must be one of {', '.join(BLOCKS)}"))
            continue
        if nested and not kind.nestable:
            errors.append(
                DesignError(f"{block_path}.type", "not_nestable", f"a {kind.label.lower()} cannot sit in a column")
            )
            continue
        cleaned.append(kind.clean(_Cleaner(data, block_path, errors)))
    return cleaned


def clean_design(data: Any) -> Design:
    """The design with every field checked and rich text sanitized; raises InvalidDesign."""
    errors: list[DesignError] = []
    if not isinstance(data, dict):
        raise InvalidDesign([DesignError("design", "type", "must be an object with a list of blocks")])
    if data.get("version", DESIGN_VERSION) != DESIGN_VERSION:
        errors.append(DesignError("version", "version", f"must be {DESIGN_VERSION}"))
    blocks = clean_blocks(data.get("blocks", []), "blocks", errors)
    if errors:
        raise InvalidDesign(errors)
    return {"version": DESIGN_VERSION, "blocks": blocks}


def design_errors(data: Any) -> list[DesignError]:
    try:
        clean_design(data)
    except InvalidDesign as invalid:
        return invalid.errors
    return []


def design_problems(design: Design) -> list[DesignProblem]:
    """Content problems of a clean design: missing alt text, empty links, image-heavy."""
    found = [
        problem
        for i, block in enumerate(design["blocks"])
        for problem in BLOCKS[block["type"]].problems(block, f"blocks[{i}]")
    ]
    if not design["blocks"]:
        found.append(DesignProblem("blocks", "The design has no blocks."))
    images = sum(_image_count(block) for block in design["blocks"])
    words = sum(BLOCKS[block["type"]].words(block) for block in design["blocks"])
    if images and words < IMAGE_HEAVY_WORDS * images:
        found.append(
            DesignProblem(
                "blocks",
                f"Image-heavy: {images} image(s) and {words} words of text. Spam filters and readers with "
                f"images off prefer at least {IMAGE_HEAVY_WORDS} words per image.",
                "warning",
            )
        )
    return found


def _image_count(block: Block) -> int:
    if block["type"] == "image":
        return 1
    if block["type"] == "columns":
        return sum(inner["type"] == "image" for column in block["columns"] for inner in column["blocks"])
    return 0


@dataclass(frozen=True)
class RenderedDesign:
    mjml: str
    html: str
    text: str


def _with_footer(design: Design, commercial: bool) -> list[Block]:
    """A commercial email always ends with a footer (the unsubscribe link lives there)."""
    blocks = list(design["blocks"])
    if commercial and not any(block["type"] == "footer" for block in blocks):
        blocks.append(BLOCKS["footer"].default())
    return blocks


def to_mjml(design: Design, brand: BrandStyle, ctx: RenderContext) -> str:
    sections: list[str] = []
    if brand.logo_url:
        sections.append(
            f'<mj-section padding="16px 0"><mj-column><mj-image src="{ctx.attr(brand.logo_url)}" '
            f'alt="{ctx.attr(brand.name)}" width="160px" padding="0 24px" /></mj-column></mj-section>'
        )
    run: list[str] = []

    def flush() -> None:
        if run:
            sections.append(
                f'<mj-section css-class="dsg-content" padding="8px 0"><mj-column>{"".join(run)}</mj-column></mj-section>'
            )
            run.clear()

    for block in _with_footer(design, ctx.commercial):
        if block["type"] == "columns":
            flush()
            columns = "".join(
                f"<mj-column>{''.join(BLOCKS[inner['type']].mjml(inner, ctx) for inner in column['blocks'])}</mj-column>"
                for column in block["columns"]
            )
            sections.append(f'<mj-section css-class="dsg-content" padding="8px 0">{columns}</mj-section>')
        else:
            run.append(BLOCKS[block["type"]].mjml(block, ctx))
    flush()
    head = (
        "<mj-head>"
        "<mj-attributes>"
        f'<mj-all font-family="{ctx.attr(brand.font_family)}" />'
        f'<mj-text color="{brand.text_color}" font-size="16px" line-height="1.5" />'
        f'<mj-section background-color="{brand.content_color}" />'
        "</mj-attributes>"
        f'<mj-style inline="inline">a {{ color: {brand.primary_color}; }} ul, ol {{ padding-left: 24px; }}</mj-style>'
        # A client that honours dark mode (Apple Mail, Outlook apps) switches to these.
        "<mj-style>:root { color-scheme: light dark; supported-color-schemes: light dark; }"
        "@media (prefers-color-scheme: dark) {"
        " body, .dsg-body, .dsg-body > div { background-color: #121212 !important; }"
        " .dsg-content, .dsg-content > table, .dsg-content td { background-color: #1e1e1e !important; }"
        " .dsg-text div, .dsg-text h1, .dsg-text h2, .dsg-text h3, .dsg-text p, .dsg-text li"
        " { color: #eeeeee !important; }"
        " .dsg-footer div, .dsg-footer a { color: #aaaaaa !important; } }</mj-style>"
        "</mj-head>"
    )
    return (
        f'<mjml>{head}<mj-body width="{brand.width}px" background-color="{brand.background_color}" '
        f'css-class="dsg-body">{"".join(sections)}</mj-body></mjml>'
    )


_INLINER = css_inline.CSSInliner(keep_style_tags=True, keep_at_rules=True, load_remote_stylesheets=False)
_RENDER_OPTIONS = mrml.RenderOptions(disable_comments=True, fonts={})
_MSO_CONDITIONAL = re.compile(r"<!--\[if [^\]]*\]>.*?<!\[endif\]-->", re.DOTALL)


def render_design(design: Design, brand: BrandStyle = DEFAULT_BRAND, *, commercial: bool = True) -> RenderedDesign:
    """The email HTML (table-based, CSS inlined) and plain text of a clean design.

    Both still hold the design's template expressions; the sandbox renders them per contact.
    """
    ctx = RenderContext(brand=brand, commercial=commercial)
    markup = to_mjml(design, brand, ctx)
    output = mrml.to_html(markup, render_options=_RENDER_OPTIONS)
    # Outlook's conditional comments hold their own markup: the HTML parser of the inliner
    # would drop them, so they are kept aside and put back unchanged.
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"<!--dsgnmso{len(kept) - 1}-->"

    inlined = _INLINER.inline(_MSO_CONDITIONAL.sub(keep, output.content))
    inlined = re.sub(r"<!--dsgnmso(\d+)-->", lambda m: kept[int(m.group(1))], inlined)
    return RenderedDesign(
        mjml=markup, html=ctx.placeholders.restore(inlined), text=design_text(design, commercial=commercial)
    )


def design_text(design: Design, *, commercial: bool = True) -> str:
    """The plain-text part: each block's text, in order, and the unsubscribe link."""
    parts = []
    for block in _with_footer(design, commercial):
        part = BLOCKS[block["type"]].text(block)
        if part:
            parts.append(part)
    if commercial:
        parts.append(f"Unsubscribe: {UNSUBSCRIBE_EXPRESSION}")
    return "\n\n".join(parts) + "\n"
