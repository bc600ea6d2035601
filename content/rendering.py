"""Personalisation: Django's template language in a sandbox that sees only the render context.

Two dedicated engines, neither connected to the project's template settings: no loaders
(nothing can be read from disk), no context processors (no request, user or settings), no
installed tag libraries, and a reduced set of built-in tags (see content.sandbox_library).
HTML bodies are autoescaped; plain text, text messages and push are not (they are not HTML).

Django templates call zero-argument callables they find on objects, so the context is frozen
into read-only mappings and tuples first: nothing reachable from a template can mutate
anything (`{{ trigger.items.clear }}` has nothing to clear) or reach a model or a method.
"""

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import TextNode

from .errors import RenderError
from .render_limits import check_output, limited

__all__ = ["RenderError", "TemplateSyntaxError", "compile_template", "freeze", "render"]


class _SandboxEngine(Engine):
    # Engine adds django's default built-ins (loader_tags among them) to whatever it is
    # given; the sandbox starts from nothing and adds its own library only.
    default_builtins: list[str] = []


def _engine(*, autoescape: bool) -> Engine:
    return _SandboxEngine(
        dirs=[],
        app_dirs=False,
        context_processors=[],
        debug=False,
        loaders=[],
        string_if_invalid="",
        libraries={},
        builtins=["content.sandbox_library"],
        autoescape=autoescape,
    )


HTML_ENGINE = _engine(autoescape=True)
TEXT_ENGINE = _engine(autoescape=False)


class FrozenMapping(Mapping):
    """A read-only mapping: lookups work, nothing can change it."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = {str(k): freeze(v) for k, v in data.items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # What `{{ trigger.cart }}` prints: the data, never a class name or an address.
        return repr(self._data)

    __str__ = __repr__


def freeze(value: Any) -> Any:
    """JSON-like data made read-only; anything else becomes its string form."""
    if isinstance(value, FrozenMapping):
        return value  # already read-only all the way down: shared, not copied
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    # Dates, decimals, model instances: only their text reaches a template.
    return str(value)


@lru_cache(maxsize=1024)
def compile_template(source: str, *, html: bool) -> Template:
    """Compile once per source text; raises TemplateSyntaxError for the marketer to see."""
    return (HTML_ENGINE if html else TEXT_ENGINE).from_string(source)


@lru_cache(maxsize=1024)
def _static_text(source: str, html: bool) -> str | None:
    """What a template without variables or tags renders whatever the context (its text,
    comments dropped), or None. A preheader or a plain subject is often such a template, and
    a render costs a Context and Django's render machinery, a few times the text's copy."""
    nodes = compile_template(source, html=html).nodelist
    texts = [node.s for node in nodes if type(node) is TextNode]  # type: ignore[attr-defined]  # a TextNode's
    return "".join(texts) if len(texts) == len(nodes) else None


def render(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render a message template with only `context` visible.

    Raises TemplateSyntaxError when the source does not compile and RenderError when a
    filter fails at render time (e.g. `divisibleby:0`).
    """
    if not source:
        return ""
    static = _static_text(source, html)
    if static is not None:
        return check_output(static)
    template = compile_template(source, html=html)
    try:
        with limited():
            rendered = template.render(Context(dict(freeze(context)), autoescape=html))
    except RenderError:
        raise  # a render limit (content.render_limits), already worded for the marketer
    except Exception as error:  # a filter's own error: report it, never crash the sender
        raise RenderError(f"{type(error).__name__}: {error}") from error
    # Django returns a SafeString; a message is text for its channel, not markup trusted by
    # our own pages (the admin preview escapes it), so hand back a plain str.
    return check_output(str.__str__(rendered))
