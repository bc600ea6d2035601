"""The only tags and filters message templates may use (the sandbox's built-ins).

Left out on purpose: `debug` (dumps the context and loaded modules), `load` (would reach
installed libraries), `include`/`extends`/`block` (read files), `url` and `csrf_token`
(the site's internals), `now`/`lorem` (no business in a message), `pprint` (reprs), and
`autoescape`, `safe` and `safeseq`: contact and trigger data always reach an HTML email
escaped. `for` spends the render's budget and growing filters are bounded
(content.render_limits).
"""

from typing import Any

from django.template import Context, Library, Node, defaultfilters, defaulttags
from django.template.base import FilterExpression, Parser, Token

from .render_limits import CountedSequence, limit_filter, spend_output

ALLOWED_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
EXCLUDED_FILTERS = ("pprint", "safe", "safeseq")


class _LimitedForNode(defaulttags.ForNode):
    """Django's `for`, with every iteration and every iteration's text counted."""

    def render(self, context: Context) -> str:
        return spend_output(super().render(context))


class _CountedExpression:
    def __init__(self, expression: FilterExpression) -> None:
        self.expression = expression

    def resolve(self, context: Context, ignore_failures: bool = False) -> Any:
        values = self.expression.resolve(context, ignore_failures=ignore_failures)
        return values if values is None else CountedSequence(values)


def _limited_for(parser: Parser, token: Token) -> Node:
    node = defaulttags.do_for(parser, token)
    node.__class__ = _LimitedForNode
    node.sequence = _CountedExpression(node.sequence)  # type: ignore[assignment,arg-type]
    return node


register = Library()
for _name in ALLOWED_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
register.tags["for"] = _limited_for
for _name, _filter in defaultfilters.register.filters.items():
    if _name not in EXCLUDED_FILTERS:
        register.filters[_name] = limit_filter(_name, _filter)
