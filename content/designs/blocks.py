"""The blocks a design is made of: one class per kind, registered once in BLOCKS.

Each kind cleans its JSON (shape errors stop a save), lists its content problems (missing alt
text stops Ready to send), and renders itself as MJML and as plain text. The editor, the
validation, the checks and the renderer all iterate the registry.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .brand import COLOR, BrandStyle
from .errors import DesignError, DesignProblem
from .richtext import Placeholders, is_safe_url, protect_rich_text, rich_text_to_plain, sanitize_rich_text

Block = dict[str, Any]
MAX_TEXT = 20_000
UNSUBSCRIBE_EXPRESSION = "{{ unsubscribe_url }}"


@dataclass
class RenderContext:
    brand: BrandStyle
    commercial: bool
    placeholders: Placeholders = field(default_factory=Placeholders)

    def text(self, value: str) -> str:
        return self.placeholders.protect(value)

    def attr(self, value: str) -> str:
        return self.placeholders.protect(value.strip())


class _Cleaner:
    """Reads one block's fields, collecting shape errors under `path`."""

    def __init__(self, data: Block, path: str, errors: list[DesignError]) -> None:
        self.data, self.path, self.errors = data, path, errors

    def error(self, name: str, code: str, message: str) -> None:
        self.errors.append(DesignError(f"{self.path}.{name}", code, message))

    def text(self, name: str, default: str = "", max_length: int = MAX_TEXT) -> str:
        value = self.data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(name, "type", "must be text")
            return default
        if len(value) > max_length:
            self.error(name, "too_long", f"must be at most {max_length} characters")
            return value[:max_length]
        return value

    def url(self, name: str) -> str:
        value = self.text(name, max_length=2000).strip()
        if value and not is_safe_url(value):
            self.error(name, "url", "must be an http://, https:// or mailto: address")
            return ""
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(name, "range", f"must be a whole number from {low} to {high}")
            return default
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            self.error(name, "choice", f"must be one of {', '.join(choices)}")
            return default
        return value

    def color(self, name: str) -> str:
        value = self.text(name).strip()
        if value and not COLOR.fullmatch(value):
            self.error(name, "color", "must be a colour like #1a73e8")
            return ""
        return value


ALIGN = ("left", "center", "right")


class BlockKind:
    type: ClassVar[str]
    label: ClassVar[str]
    nestable: ClassVar[bool] = True  # may sit inside a column

    def default(self) -> Block:
        return {"type": self.type}

    def clean(self, read: _Cleaner) -> Block:
        return {"type": self.type}

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        return []

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        raise NotImplementedError

    def text(self, block: Block) -> str:
        return ""

    def words(self, block: Block) -> int:
        return len(self.text(block).split())


class Heading(BlockKind):
    type, label = "heading", "Heading"
    SIZES: ClassVar[dict[int, int]] = {1: 28, 2: 22, 3: 18}

    def default(self) -> Block:
        return {"type": self.type, "text": "A heading", "level": 1, "align": "left"}

    def clean(self, read: _Cleaner) -> Block:
        return {
            "type": self.type,
            "text": read.text("text", max_length=500),
            "level": read.integer("level", 1, 1, 3),
            "align": read.choice("align", ALIGN, "left"),
        }

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        return [] if block["text"].strip() else [DesignProblem(path, "The heading is empty.")]

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        level, size = block["level"], self.SIZES[block["level"]]
        return (
            f'<mj-text align="{block["align"]}" css-class="dsg-text" padding="16px 24px 4px">'
            f'<h{level} style="margin:0;font-size:{size}px;line-height:1.25;font-weight:700">'
            f"{ctx.text(block['text'])}</h{level}></mj-text>"
        )

    def text(self, block: Block) -> str:
        return block["text"].strip()


class Text(BlockKind):
    type, label = "text", "Text"

    def default(self) -> Block:
        return {"type": self.type, "html": "<p>Write something.</p>"}

    def clean(self, read: _Cleaner) -> Block:
        return {"type": self.type, "html": sanitize_rich_text(read.text("html"))}

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        found = []
        if not rich_text_to_plain(block["html"]).strip():
            found.append(DesignProblem(path, "The text is empty.", "warning"))
        if "<a>" in block["html"] or '<a href="">' in block["html"]:
            found.append(DesignProblem(path, "A link has no address (or an unsafe one)."))
        return found

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        return f'<mj-text css-class="dsg-text" padding="8px 24px">{protect_rich_text(block["html"], ctx.placeholders)}</mj-text>'

    def text(self, block: Block) -> str:
        return rich_text_to_plain(block["html"])


class Image(BlockKind):
    type, label = "image", "Image"

    def default(self) -> Block:
        return {"type": self.type, "src": "", "alt": "", "href": "", "width": 0}

    def clean(self, read: _Cleaner) -> Block:
        return {
            "type": self.type,
            "src": read.url("src"),
            "alt": read.text("alt", max_length=300),
            "href": read.url("href"),
            "width": read.integer("width", 0, 0, 800),  # 0: the column's width
        }

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        found = []
        if not block["src"]:
            found.append(DesignProblem(path, "The image has no address."))
        if not block["alt"].strip():
            found.append(DesignProblem(path, "The image needs alt text (read aloud, shown when images are off)."))
        return found

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        attrs = f'src="{ctx.attr(block["src"])}" alt="{ctx.attr(block["alt"])}" padding="8px 24px"'
        if block["href"]:
            attrs += f' href="{ctx.attr(block["href"])}"'
        if block["width"]:
            attrs += f' width="{block["width"]}px"'
        return f"<mj-image {attrs} />"

    def text(self, block: Block) -> str:
        return ""

    def words(self, block: Block) -> int:
        return 0


class Button(BlockKind):
    type, label = "button", "Button"

    def default(self) -> Block:
        return {"type": self.type, "label": "Shop now", "href": "", "background": "", "color": "", "align": "center"}

    def clean(self, read: _Cleaner) -> Block:
        return {
            "type": self.type,
            "label": read.text("label", max_length=200),
            "href": read.url("href"),
            "background": read.color("background"),
            "color": read.color("color"),
            "align": read.choice("align", ALIGN, "center"),
        }

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        found = []
        if not block["label"].strip():
            found.append(DesignProblem(path, "The button has no label."))
        if not block["href"]:
            found.append(DesignProblem(path, "The button has no link (URL)."))
        return found

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        background = block["background"] or ctx.brand.primary_color
        color = block["color"] or "#ffffff"
        return (
            f'<mj-button href="{ctx.attr(block["href"])}" background-color="{background}" color="{color}" '
            f'align="{block["align"]}" font-size="16px" font-weight="700" inner-padding="12px 28px" '
            f'border-radius="4px" padding="12px 24px">{ctx.text(block["label"])}</mj-button>'
        )

    def text(self, block: Block) -> str:
        return f"{block['label'].strip()}: {block['href']}" if block["href"] else block["label"].strip()


class Divider(BlockKind):
    type, label = "divider", "Divider"

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        return '<mj-divider border-color="#dddddd" border-width="1px" padding="12px 24px" />'

    def text(self, block: Block) -> str:
        return "----"


class Spacer(BlockKind):
    type, label = "spacer", "Spacer"

    def default(self) -> Block:
        return {"type": self.type, "height": 24}

    def clean(self, read: _Cleaner) -> Block:
        return {"type": self.type, "height": read.integer("height", 24, 4, 200)}

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        return f'<mj-spacer height="{block["height"]}px" />'


class Social(BlockKind):
    type, label = "social", "Social links"
    NETWORKS: ClassVar[dict[str, str]] = {
        "facebook": "Facebook",
        "instagram": "Instagram",
        "x": "X",
        "linkedin": "LinkedIn",
        "youtube": "YouTube",
    }

    def default(self) -> Block:
        return {"type": self.type, "links": {name: "" for name in self.NETWORKS}}

    def clean(self, read: _Cleaner) -> Block:
        links = read.data.get("links", {})
        if not isinstance(links, dict):
            read.error("links", "type", "must map a network to its address")
            links = {}
        for name in sorted(set(links) - set(self.NETWORKS)):
            read.error(f"links.{name}", "choice", f"must be one of {', '.join(self.NETWORKS)}")
        nested = _Cleaner(links, f"{read.path}.links", read.errors)
        return {"type": self.type, "links": {name: nested.url(name) for name in self.NETWORKS}}

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        if any(block["links"].values()):
            return []
        return [DesignProblem(path, "No social link has an address.", "warning")]

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        # mrml's own names (`x` is `twitter` there, `-noshare` links to the page itself).
        names = {"x": "twitter-noshare"}
        elements = "".join(
            f'<mj-social-element name="{names.get(name, name + "-noshare")}" href="{ctx.attr(href)}">'
            f"{self.NETWORKS[name]}</mj-social-element>"
            for name, href in block["links"].items()
            if href
        )
        return f'<mj-social mode="horizontal" font-size="13px" padding="12px 24px">{elements}</mj-social>'

    def text(self, block: Block) -> str:
        return "\n".join(f"{self.NETWORKS[name]}: {href}" for name, href in block["links"].items() if href)


class Footer(BlockKind):
    """Who sends the email and, for commercial email, always the unsubscribe link."""

    type, label = "footer", "Footer"
    nestable = False

    def default(self) -> Block:
        return {"type": self.type, "text": "", "unsubscribe_label": "Unsubscribe"}

    def clean(self, read: _Cleaner) -> Block:
        return {
            "type": self.type,
            "text": read.text("text", max_length=2000),
            "unsubscribe_label": read.text("unsubscribe_label", "Unsubscribe", max_length=100),
        }

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        lines = ctx.text(block["text"].strip()).replace("\n", "<br />")
        label = ctx.text(block["unsubscribe_label"].strip() or "Unsubscribe")
        link = f'<a href="{ctx.attr(UNSUBSCRIBE_EXPRESSION)}" style="color:#777777">{label}</a>'
        body = "<br />".join(part for part in (lines, link if ctx.commercial else "") if part)
        return (
            '<mj-text align="center" font-size="12px" color="#777777" css-class="dsg-footer" '
            f'padding="16px 24px">{body}</mj-text>'
        )

    def text(self, block: Block) -> str:
        return block["text"].strip()

    def words(self, block: Block) -> int:
        return 0


class Columns(BlockKind):
    """Two or three columns side by side, stacked on a phone."""

    type, label = "columns", "Columns"
    nestable = False

    def default(self) -> Block:
        return {"type": self.type, "columns": [{"blocks": []}, {"blocks": []}]}

    def clean(self, read: _Cleaner) -> Block:
        from .design import clean_blocks  # the columns' blocks are cleaned like the top level

        columns = read.data.get("columns")
        if not isinstance(columns, list) or not 2 <= len(columns) <= 3:
            read.error("columns", "count", "must be a list of 2 or 3 columns")
            return self.default()
        cleaned = []
        for i, column in enumerate(columns):
            path = f"{read.path}.columns[{i}]"
            blocks = column.get("blocks", []) if isinstance(column, dict) else None
            cleaned.append({"blocks": clean_blocks(blocks, f"{path}.blocks", read.errors, nested=True)})
        return {"type": self.type, "columns": cleaned}

    def problems(self, block: Block, path: str) -> list[DesignProblem]:
        return [
            problem
            for i, column in enumerate(block["columns"])
            for j, inner in enumerate(column["blocks"])
            for problem in BLOCKS[inner["type"]].problems(inner, f"{path}.columns[{i}].blocks[{j}]")
        ]

    def mjml(self, block: Block, ctx: RenderContext) -> str:
        raise NotImplementedError("columns are a section of their own (see render)")

    def text(self, block: Block) -> str:
        return "\n\n".join(
            part
            for column in block["columns"]
            for inner in column["blocks"]
            if (part := BLOCKS[inner["type"]].text(inner))
        )

    def words(self, block: Block) -> int:
        return sum(BLOCKS[inner["type"]].words(inner) for column in block["columns"] for inner in column["blocks"])

    def images(self, block: Block) -> int:
        return sum(inner["type"] == "image" for column in block["columns"] for inner in column["blocks"])


BLOCKS: dict[str, BlockKind] = {
    kind.type: kind
    for kind in (Heading(), Text(), Image(), Button(), Divider(), Spacer(), Columns(), Social(), Footer())
}
