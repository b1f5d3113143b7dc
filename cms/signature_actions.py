"""The signatures listing's bulk actions: Wagtail ``BulkAction`` views, registered in ``wagtail_hooks``.

Each acts on the rows the lead ticked, or on every row of the listing as filtered ("select all",
which sends the listing's query string), within the lead's grants only: an id outside them is a
404 for the whole request, so a forged id changes nothing and reveals nothing. The confirmation
states how many rows the action will change; an action that would change none says so and
offers no button. The work itself is ``cms.moderation``'s (and ``cms.erasure``'s for "erase").
"""

from django.http import Http404, HttpResponseForbidden
from django.utils.functional import classproperty
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.views.bulk_action import BulkAction

from . import erasure, moderation
from .conf import get_signature_model
from .fraud import INVALIDATABLE
from .models import ErasureLog
from .permissions import REVIEW_FRAUD
from .signature_listing import SignatureFilterSet, granted_signatures, search_signatures

#: How many of the chosen signers the confirmation names (the count covers them all).
SAMPLE_SIZE = 20


class SignatureBulkAction(BulkAction):
    """A bulk action on signatures; subclasses name the permission, the rows it changes and the work."""

    template_name = "petitions/admin/signatures_bulk_confirm.html"
    #: A Django permission the user needs besides seeing signatures.
    permission = "petitions_cms.change_signature"
    #: What the confirmation says when no chosen row would change.
    nothing = ""

    def question(self, count):
        """The confirmation's question, stating the count."""
        raise NotImplementedError

    def done(self, count):
        """The success message, stating the count."""
        raise NotImplementedError

    @classproperty
    def models(cls):
        return [get_signature_model()]

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            # A plain 403 (not Wagtail's redirect to the dashboard), as the fraud tools answer.
            return HttpResponseForbidden(gettext("This action needs a permission you do not have."))
        return super().dispatch(request, *args, **kwargs)

    def chosen(self):
        """The chosen rows, within the user's grants; 404 if any chosen id is not among them."""
        rows = granted_signatures(self.request.user, self.model.objects.all())
        ids = self.request.GET.getlist("id")
        if "all" in ids:
            # Every row of the listing as filtered and searched: the same FilterSet, the same search.
            filters = SignatureFilterSet(self.request.GET, rows, request=self.request)
            if not filters.is_valid():
                raise Http404(gettext("Those filters match no listing of yours."))
            return search_signatures(filters.qs, self.request.GET.get("q", ""))
        try:
            wanted = {int(pk) for pk in ids}
        except ValueError:
            raise Http404(gettext("No such signature")) from None
        rows = rows.filter(pk__in=wanted)
        if len(wanted) != rows.count():
            raise Http404(gettext("No such signature"))
        return rows

    def changing(self, rows):
        """The rows among ``rows`` that the action would change."""
        raise NotImplementedError

    def get_actionable_objects(self):
        # A queryset, not a list of objects: "select all" may mean a million rows.
        return self.changing(self.chosen()), {"items_with_no_access": []}

    def get_context_data(self, **kwargs):
        rows, _extra = self.get_actionable_objects()
        count = rows.count()
        return {
            "view": self,
            "count": count,
            "question": self.question(count),
            "nothing": self.nothing,
            "sample": list(rows.select_related("petition").order_by("-created_at", "-pk")[:SAMPLE_SIZE]),
            "next": self.next_url,
            "submit_url": self.request.path + "?" + self.request.META["QUERY_STRING"],
            "action_label": self.display_name,
            "page_title": self.display_name,
            "header_icon": "group",
            "classes": " ".join(self.classes),
        }

    @classmethod
    def execute_action(cls, objects, **kwargs):
        return cls.act(objects.values("pk")), 0

    def get_success_message(self, num_parent_objects, num_child_objects):
        if not num_parent_objects:
            return gettext("No signature changed: none of them needed it.")
        return self.done(num_parent_objects)


class HideFromFeedBulkAction(SignatureBulkAction):
    display_name = _("Hide from feed")
    action_type = "hide_from_feed"
    aria_label = _("Hide the selected signatures from the public feed")
    action_priority = 10

    def question(self, count):
        return ngettext(
            "Hide %(count)s signature from the public feed?",
            "Hide %(count)s signatures from the public feed?",
            count,
        ) % {"count": count}

    def done(self, count):
        return ngettext(
            "Hid %(count)s signature from the feed.",
            "Hid %(count)s signatures from the feed.",
            count,
        ) % {"count": count}

    nothing = _("None of the chosen signatures is shown in the feed: there is nothing to hide.")

    def changing(self, rows):
        return rows.filter(hidden_from_feed=False)

    act = staticmethod(moderation.hide_from_feed)


class InvalidateBulkAction(SignatureBulkAction):
    display_name = _("Invalidate")
    action_type = "invalidate"
    aria_label = _("Invalidate the selected signatures")
    action_priority = 20
    classes = {"serious"}
    permission = REVIEW_FRAUD

    def question(self, count):
        return ngettext(
            "Invalidate %(count)s signature? It stops counting at the next reconcile.",
            "Invalidate %(count)s signatures? They stop counting at the next reconcile.",
            count,
        ) % {"count": count}

    def done(self, count):
        return ngettext(
            "Invalidated %(count)s signature. Counts correct themselves at the next reconcile.",
            "Invalidated %(count)s signatures. Counts correct themselves at the next reconcile.",
            count,
        ) % {"count": count}

    nothing = _("None of the chosen signatures can be invalidated: they are invalidated or fraudulent already.")

    def changing(self, rows):
        return rows.filter(status__in=INVALIDATABLE)

    act = staticmethod(moderation.invalidate)


class RestoreBulkAction(SignatureBulkAction):
    display_name = _("Restore")
    action_type = "restore"
    aria_label = _("Restore the selected signatures: undo invalidation and hiding")
    action_priority = 30
    permission = REVIEW_FRAUD

    def question(self, count):
        return ngettext(
            "Restore %(count)s signature (undo its invalidation or hiding)?",
            "Restore %(count)s signatures (undo their invalidation or hiding)?",
            count,
        ) % {"count": count}

    def done(self, count):
        return ngettext(
            "Restored %(count)s signature.",
            "Restored %(count)s signatures.",
            count,
        ) % {"count": count}

    nothing = _("None of the chosen signatures is invalidated or hidden: there is nothing to restore.")

    def changing(self, rows):
        return rows.filter(hidden_from_feed=True) | rows.filter(status=self.model.Status.INVALIDATED)

    act = staticmethod(moderation.restore)


class EraseBulkAction(SignatureBulkAction):
    """Wagtail's bulk "delete", as an erasure: logged without the address, recounted, the feed rebuilt."""

    display_name = _("Erase")
    action_type = "delete"
    aria_label = _("Erase the selected signatures")
    action_priority = 90
    classes = {"serious"}
    permission = "petitions_cms.delete_signature"

    def question(self, count):
        return ngettext(
            "Erase %(count)s signature? This cannot be undone.",
            "Erase %(count)s signatures? This cannot be undone.",
            count,
        ) % {"count": count}

    def done(self, count):
        return ngettext(
            "Erased %(count)d signature. Counts and feeds correct themselves at the next reconcile.",
            "Erased %(count)d signatures. Counts and feeds correct themselves at the next reconcile.",
            count,
        ) % {"count": count}

    nothing = _("No signature chosen.")

    def changing(self, rows):
        return rows

    def execute_action(self, objects, **kwargs):
        ids = list(objects.values_list("pk", flat=True))
        return erasure.erase_signatures(ids, reason=ErasureLog.Reason.LEAD, actor=self.request.user), 0


ACTIONS = [HideFromFeedBulkAction, InvalidateBulkAction, RestoreBulkAction, EraseBulkAction]
