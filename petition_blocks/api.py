"""Finding the page a block belongs to when it is serialised for an API.

A block's ``get_api_representation(value, context)`` is not told which page
it is on, yet the counter and the feed must carry that page's live values.
The plugin's own API passes the page as ``context["page"]``. Wagtail's page
APIs (v3 and v2) pass only the request, so for them the page is the one the
request's URL names (``page_id`` in v3, ``pk`` in v2), looked up once per
request.
"""

from wagtail.models import Page

#: The URL keyword arguments Wagtail's page APIs name a page by.
PAGE_ID_KWARGS = ("page_id", "pk")


def page_from_api_context(context):
    """The page being serialised, or None when the context does not say."""
    context = context or {}
    if context.get("page") is not None:
        return context["page"]
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    page_id = next((match.kwargs[name] for name in PAGE_ID_KWARGS if name in match.kwargs), None)
    try:
        page_id = int(page_id)
    except (TypeError, ValueError):
        return None
    pages = request.__dict__.setdefault("_petitions_api_pages", {})
    if page_id not in pages:
        pages[page_id] = Page.objects.filter(pk=page_id).specific().first()
    return pages[page_id]
