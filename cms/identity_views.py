"""The accent colour's stylesheet: one tiny immutable file per colour.

The site's Content-Security-Policy allows no inline styles (a cached page is shared, so no nonce
either), so a campaign's ``--accent`` comes from ``<link href=".../accent/1a5fb4.css">``. The colour
is the whole URL, checked by its pattern and again here, so nothing is looked up and any copy may be
kept for a year.
"""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe

from .identity import ACCENT_PATTERN, MIN_CONTRAST, contrast_with_white


@require_safe
def accent_stylesheet(request, colour):
    colour = "#" + colour
    if not ACCENT_PATTERN.fullmatch(colour) or contrast_with_white(colour) < MIN_CONTRAST:
        raise Http404
    response = HttpResponse(f":root {{ --accent: {colour}; }}\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
