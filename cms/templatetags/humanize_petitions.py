from django import template
from django.utils.text import get_text_list
from django.utils.translation import gettext

register = template.Library()


@register.filter
def intcomma_plain(value):
    """1234567 -> "1,234,567" without pulling in django.contrib.humanize."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value


@register.filter
def full_name(signature):
    """The signer as "First Last", or "First" alone: one value for a translated sentence to place."""
    return " ".join(part for part in (signature.first_name, signature.last_name) if part)


@register.filter
def and_list(items):
    """["A", "B", "C"] -> "A, B and C", joined with the active language's words."""
    return get_text_list([str(item) for item in items], gettext("and"))
