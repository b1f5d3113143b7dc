from django import template

register = template.Library()


@register.filter
def intcomma_plain(value):
    """1234567 -> "1,234,567" without pulling in django.contrib.humanize."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value
