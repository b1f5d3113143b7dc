from django import template

from ..share_cards import share_meta

register = template.Library()


@register.inclusion_tag("petitions/includes/share_tags.html", takes_context=True)
def share_tags(context, page):
    """The page's Open Graph and Twitter card tags (``cms.share_cards``), for a template's ``meta`` block."""
    # An unsaved page (the preview of a new one) has no URL or count yet: no tags.
    return {"share": share_meta(page, context.get("request")) if page.pk else None}
