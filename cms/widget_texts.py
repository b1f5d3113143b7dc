"""The embeddable widget's own words (``cms/static/petitions/widget.js``), translated on the server.

The widget is a static script on a partner's page: it has no catalog of its own, so the
petition's JSON carries its texts in the language the request negotiated (``Accept-Language``,
which browsers send with every fetch). The script keeps English fallbacks for the moments before
that answer arrives. ``%(…)s`` placeholders are filled in by the script.
"""

from django.utils.translation import gettext, pgettext


def widget_texts() -> dict:
    return {
        "loading": gettext("Loading the petition…"),
        "load_failed": gettext("This petition could not be loaded."),
        # After the live count, as in "1,234 signatures".
        "signatures": pgettext("after a number", "signatures"),
        "goal": gettext("Goal: %(goal)s"),
        "choose": gettext("Choose…"),
        "sign": pgettext("button", "Sign"),
        "privacy": gettext("How we use your data"),
        "check_email": gettext("Check your email: %(detail)s"),
        "correct_fields": gettext("Please correct the fields marked."),
        "send_failed": gettext("Your signature could not be sent. Please try again."),
    }
