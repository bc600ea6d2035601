"""The rich text a designer block may hold: a small safe subset of HTML, and the template
expressions of the sandbox kept intact through MJML and CSS inlining.

Rich text keeps paragraphs, line breaks, bold, italic, links and lists; any other tag is
dropped (its text kept), `<script>`/`<style>` with their content. A link keeps only its
`href`, and only an http(s)/mailto address or a template expression (`{{ trigger.url }}`).

Template expressions (`{{ … }}`, `{% … %}`) are not HTML: escaping them would break them
(`default:'there'` -> `default:&#x27;there&#x27;`), and the sandbox escapes the values they
print when the email is sent. So they are swapped for inert placeholders while the design
becomes HTML, and swapped back at the end (`Placeholders`).
"""

import html
import re
from html.parser import HTMLParser

TEMPLATE_EXPRESSION = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li"}
RENAMED_TAGS = {"b": "strong", "i": "em", "div": "p"}
DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "iframe", "object", "template"}
VOID_TAGS = {"br"}
SAFE_SCHEMES = ("http://", "https://", "mailto:")


class Placeholders:
    """Template expressions swapped for `tplNx` tokens (letters and digits only: they survive
    MJML, the CSS inliner and attribute quoting unchanged), restored by `restore`."""

    _TOKEN = re.compile(r"dsgntpl(\d+)x")

    def __init__(self) -> None:
        self.expressions: list[str] = []

    def protect(self, text: str) -> str:
        """Escape `text` for HTML, keeping its template expressions as placeholders."""
        out, last = [], 0
        for match in TEMPLATE_EXPRESSION.finditer(text):
            out.append(html.escape(text[last : match.start()], quote=True))
            out.append(self.token(match.group(0)))
            last = match.end()
        out.append(html.escape(text[last:], quote=True))
        return "".join(out)

    def token(self, expression: str) -> str:
        self.expressions.append(expression)
        return f"dsgntpl{len(self.expressions) - 1}x"

    def restore(self, markup: str) -> str:
        return self._TOKEN.sub(lambda m: self.expressions[int(m.group(1))], markup)


def is_safe_url(url: str) -> bool:
    """An http(s)/mailto address, or one whose parts are template expressions."""
    url = url.strip()
    if not url:
        return False
    if TEMPLATE_EXPRESSION.fullmatch(url):
        return True
    return TEMPLATE_EXPRESSION.sub("x", url).lower().startswith(SAFE_SCHEMES)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping += 1
            return
        tag = RENAMED_TAGS.get(tag, tag)
        if self.skipping or tag not in ALLOWED_TAGS:
            return
        if tag == "a":
            href = next((value or "" for name, value in attrs if name == "href"), "").strip()
            self.out.append(f'<a href="{html.escape(href, quote=True)}">' if is_safe_url(href) else "<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if RENAMED_TAGS.get(tag, tag) in VOID_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
            return
        tag = RENAMED_TAGS.get(tag, tag)
        if self.skipping or tag not in self.open:
            return
        while self.open:  # close whatever was left open inside it
            closing = self.open.pop()
            self.out.append(f"</{closing}>")
            if closing == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            # Editors type non-breaking spaces at the end of a line; in an email they are spaces.
            self.out.append(html.escape(data.replace("\xa0", " "), quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def sanitize_rich_text(source: str) -> str:
    """The allowed subset of `source`, well-formed; template expressions left as written."""
    parser = _Sanitizer()
    parser.feed(source)
    return parser.result()


def protect_rich_text(clean: str, placeholders: Placeholders) -> str:
    """Sanitized rich text with its template expressions swapped for placeholders."""
    # The sanitizer escaped `'` nowhere and `"` only inside attributes; expressions are put
    # back to their written form before protecting them.
    return TEMPLATE_EXPRESSION.sub(lambda m: placeholders.token(html.unescape(m.group(0))), clean)


class _TextConverter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # a counter per open list; -1 for bullets
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")
        elif tag == "p":
            self.out.append("\n\n")
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
            self.out.append("\n")
        elif tag == "li":
            counter = self.lists[-1] if self.lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                self.out.append(f"\n{counter[0]}. ")
            else:
                self.out.append("\n- ")
        elif tag == "a":
            self.href = next((value or "" for name, value in attrs if name == "href"), "")
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.out.append("\n\n")
        elif tag == "p":
            self.out.append("\n\n")
        elif tag == "a" and self.href is not None:
            label = "".join(self.link_text).strip()
            if self.href and self.href != label:
                self.out.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        self.out.append(data)
        if self.href is not None:
            self.link_text.append(data)


def rich_text_to_plain(clean: str) -> str:
    """Sanitized rich text as plain text: lists as `- item`, links as `label (address)`."""
    converter = _TextConverter()
    converter.feed(clean)
    converter.close()
    text = "".join(converter.out)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
