"""Derived values for block templates (``Meta.value_class``), kept off the blocks."""

from django.utils.translation import gettext
from wagtail import blocks


class LetterValue(blocks.StructValue):
    def salutation(self):
        """ "Dear Secretary Blinken," built from the greeting and the officials."""
        greeting = (self.get("greeting") or "").strip()
        names = [o.salutation_name for o in self.get("officials") or [] if o is not None]
        if not names:
            return f"{greeting}," if greeting else ""
        if len(names) > 1:
            # Translators: the letter's officials, as in "Dear Ms Smith, Mr Jones and Ms Lee,".
            joined = gettext("%(names)s and %(last)s") % {"names": ", ".join(names[:-1]), "last": names[-1]}
        else:
            joined = names[0]
        return f"{greeting} {joined},".strip()


class CounterValue(blocks.StructValue):
    def goal_for(self, page):
        """The block's own goal wins; otherwise the page's."""
        if self.get("goal"):
            return self.get("goal")
        return page.get_goal() if hasattr(page, "get_goal") else getattr(page, "goal", None) or 0
