"""``{% challenge_widget %}``: the challenge provider's widget and script in the sign form, when one is due."""

from django import template

from .. import challenge

register = template.Library()


@register.inclusion_tag("petitions/blocks/challenge_widget.html", takes_context=True)
def challenge_widget(context):
    """Always mode: on every rendering of the form (the page is shared from a cache, so it cannot
    depend on the moment). Threshold mode: only on a form sent back because the check is due
    (``challenge_required`` in the context), an answer to one POST that no cache keeps."""
    return {"challenge": challenge.widget(page_required=bool(context.get("challenge_required")))}
