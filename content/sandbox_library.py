"""The only tags and filters message templates may use (the sandbox's built-ins).

Left out on purpose: `debug` (dumps the context and loaded modules), `load` (would reach
installed libraries), `include`/`extends`/`block` (read files), `url` and `csrf_token`
(the site's internals), `now`/`lorem` (no business in a message), `pprint` (reprs).
"""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape",
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
EXCLUDED_FILTERS = ("pprint",)

register = Library()
for _name in ALLOWED_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name, _filter in defaultfilters.register.filters.items():
    if _name not in EXCLUDED_FILTERS:
        register.filters[_name] = _filter
