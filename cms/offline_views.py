"""Paper signature batches in the admin, for campaign leads: a Wagtail ``ModelViewSet``.

Scoped like the signatures listing: a lead sees and adds batches only on the petitions under
their granted campaigns (``cms.permissions.petitions_for``); another campaign's petition or batch
is a 403 or 404, never a 500. Batches are append-only: no edit, no delete; the "edit" address
voids a batch instead (who and why are kept), and a corrected total is a new batch.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.models import Page
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from . import offline
from .models import OfflineSignatureBatch, PetitionMixin
from .permissions import ADD_OFFLINE, VIEW_OFFLINE, VOID_OFFLINE, petitions_for


def granted_batches(user, perm=VIEW_OFFLINE):
    return OfflineSignatureBatch.objects.filter(petition__in=petitions_for(user, perm))


def granted_petitions(user):
    """The petitions (any translation) a user may add paper batches to, by title."""
    ids = [page.pk for page in petitions_for(user, ADD_OFFLINE).specific() if isinstance(page, PetitionMixin)]
    return Page.objects.filter(pk__in=ids).order_by("title")


class AppendOnlyPolicy(ModelPermissionPolicy):
    """Django's model permissions, except that nobody deletes a batch: it is voided instead."""

    def user_has_permission(self, user, action):
        return action != "delete" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return super().user_has_any_permission(user, [action for action in actions if action != "delete"])


class OfflineBatchForm(WagtailAdminModelForm):
    """The add form: the petition among the lead's own; who entered it is the request's user."""

    def __init__(self, *args, for_user=None, **kwargs):
        super().__init__(*args, for_user=for_user, **kwargs)
        if "petition" in self.fields:
            self.fields["petition"].queryset = granted_petitions(for_user)
            self.fields["petition"].widget = forms.Select(choices=self.fields["petition"].choices)


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        label=_("Why is this batch voided?"),
        help_text=_("Kept with the batch, e.g. “Entered twice” or “Wrong petition”."),
    )


class BatchCreateView(ModelViewSet.add_view_class):
    def post(self, request, *args, **kwargs):
        # A petition outside the lead's campaigns is refused outright, not offered back as a choice.
        raw = request.POST.get("petition", "")
        if raw.isdigit() and not granted_petitions(request.user).filter(pk=int(raw)).exists():
            return HttpResponseForbidden(gettext("You may not add paper signatures to this petition."))
        return super().post(request, *args, **kwargs)

    def save_instance(self):
        data = self.form.cleaned_data
        return offline.add_batch(
            data["petition"],
            count=data["count"],
            collected_at=data["collected_at"],
            collected_where=data["collected_where"],
            note=data.get("note", ""),
            scan=data.get("scan"),
            entered_by=self.request.user,
        )

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as error:  # the form checked the same rules: only a settings change between
            form.add_error(None, error.messages)
            return self.form_invalid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def get_success_message(self, instance):
        return ngettext(
            "%(count)s paper signature added to “%(petition)s”.",
            "%(count)s paper signatures added to “%(petition)s”.",
            instance.count,
        ) % {
            "count": number_format(instance.count, force_grouping=True),
            "petition": instance.petition.title,
        }


class BatchIndexView(ModelViewSet.index_view_class):
    def get_base_queryset(self):
        return granted_batches(self.request.user).select_related("petition", "entered_by")


class GrantedBatchMixin:
    """One batch's admin pages: outside the user's grants it is a 404, as if it did not exist."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not granted_batches(self.request.user).filter(pk=obj.pk).exists():
            raise Http404(gettext("No such batch"))
        return obj


class BatchInspectView(GrantedBatchMixin, ModelViewSet.inspect_view_class):
    pass


class BatchHistoryView(GrantedBatchMixin, ModelViewSet.history_view_class):
    pass


class BatchUsageView(GrantedBatchMixin, ModelViewSet.usage_view_class):
    pass


def void_view(request, pk):
    """Void one batch (confirm with a reason): it stops counting, its row and who voided it stay."""
    batch = granted_batches(request.user, VOID_OFFLINE).filter(pk=pk).select_related("petition").first()
    if batch is None:
        raise Http404(gettext("No such batch"))
    form = VoidForm(request.POST or None)
    if request.method == "POST" and not batch.is_voided and form.is_valid():
        offline.void_batch(batch, voided_by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, gettext("The batch was voided; the count no longer includes it."))
        return redirect("petitions_offline:index")
    return TemplateResponse(
        request,
        "petitions/admin/offline_void.html",
        {"batch": batch, "form": form, "page_title": gettext("Void a paper batch"), "header_icon": "doc-full"},
        status=400 if form.errors else 200,
    )


def _voided_label(batch):
    if not batch.is_voided:
        return gettext("Counted")
    return gettext("Voided: %(reason)s") % {"reason": batch.void_reason}


class OfflineBatchViewSet(ModelViewSet):
    """Paper signatures, for campaign leads: list, add with provenance, void."""

    model = OfflineSignatureBatch
    name = "petitions_offline"
    url_prefix = "petitions/paper"
    icon = "doc-full"
    menu_label = _("Paper signatures")
    menu_order = 245
    add_to_admin_menu = True
    index_view_class = BatchIndexView
    add_view_class = BatchCreateView
    inspect_view_class = BatchInspectView
    history_view_class = BatchHistoryView
    usage_view_class = BatchUsageView
    inspect_view_enabled = True
    copy_view_enabled = False
    ordering = ["-collected_at", "-entered_at"]
    list_per_page = 25
    list_display = [
        Column("count", label=_("Signatures"), accessor=lambda b: number_format(b.count, force_grouping=True)),
        "petition",
        "collected_at",
        "collected_where",
        "entered_by",
        "entered_at",
        Column("status", label=_("Status"), accessor=_voided_label),
    ]
    inspect_view_fields = [
        "petition", "count", "collected_at", "collected_where", "note", "scan", "entered_by", "entered_at",
        "voided_at", "voided_by", "void_reason",
    ]  # fmt: skip
    edit_handler = ObjectList(
        [
            FieldPanel("petition"),
            FieldPanel("count"),
            FieldPanel("collected_at"),
            FieldPanel("collected_where"),
            FieldPanel("scan"),
            FieldPanel("note"),
        ],
        base_form_class=OfflineBatchForm,
    )

    def __init__(self, *args, **kwargs):
        register_permission_policy(self.model, AppendOnlyPolicy(self.model), exact_class=True)
        super().__init__(*args, **kwargs)

    def get_urlpatterns(self):
        # Append-only: "edit" voids the batch, and there is no delete.
        patterns = [p for p in super().get_urlpatterns() if getattr(p, "name", None) not in ("edit", "delete")]
        return [*patterns, path("<int:pk>/void/", void_view, name="edit")]
