"""`{% external_link url %}…{% endexternal_link %}`: a link only to an http(s) address.

Every URL that comes from a manifest, the dbt Cloud API, a warehouse or a person goes through
it, so that a `javascript:` exposure or run URL is shown as text instead of running on the
catalog's origin when clicked (see catalog.links for how a URL is read).
"""

from __future__ import annotations

from django import template
from django.template.base import token_kwargs
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from catalog.links import web_url

register = template.Library()

REFUSED_TITLE = "Not an http(s) address, so not a link"


@register.filter(name="web_url")
def web_url_filter(value: object) -> str:
    """The URL if it may be a link, else "" (for `{% if url|web_url %}`)."""
    return web_url(value) or ""


def external_link(url: object, content: str, attrs: dict[str, object]) -> SafeString:
    """`<a href>` around the content for an http(s) URL; otherwise the content in a <span>,
    followed by the refused URL as text (a blank URL adds nothing)."""
    attributes = format_html_join("", ' {}="{}"', ((k, v) for k, v in attrs.items()))
    href = web_url(url)
    if href:
        return format_html(
            '<a href="{}" rel="noopener noreferrer"{}>{}</a>', href, attributes, content
        )
    span = format_html("<span{}>{}</span>", attributes, content)
    if not isinstance(url, str) or not url.strip():
        return span
    return format_html(
        '{} <code class="url-as-text" title="{}">{}</code>', span, REFUSED_TITLE, url
    )


class ExternalLinkNode(template.Node):
    def __init__(self, url, attrs, nodelist) -> None:
        self.url = url
        self.attrs = attrs
        self.nodelist = nodelist

    def render(self, context) -> SafeString:
        attrs = {name: value.resolve(context) for name, value in self.attrs.items()}
        content = self.nodelist.render(context)
        return external_link(self.url.resolve(context), content, attrs)


@register.tag("external_link")
def do_external_link(parser, token) -> ExternalLinkNode:
    """{% external_link run.url class="dbt-link" title=… %}#{{ run.dbt_id }}{% endexternal_link %}"""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("external_link takes a URL, then name=value attributes")
    url = parser.compile_filter(bits[1])
    rest = bits[2:]
    attrs = token_kwargs(rest, parser)
    if rest:
        raise template.TemplateSyntaxError(f"external_link: {rest[0]!r} is not name=value")
    nodelist = parser.parse(("endexternal_link",))
    parser.delete_first_token()
    return ExternalLinkNode(url, attrs, nodelist)
