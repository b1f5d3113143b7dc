import copy
from types import SimpleNamespace

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from wagtail.admin.forms import WagtailAdminPageForm

from .addresses import MAX_LENGTH, disposable_domain, normalize_email
from .permissions import can_deliver


def country_choices():
    return [("", "—"), *countries]


class FastSelect(forms.Select):
    """A ``<select>`` whose options are joined in Python, not rendered one template include each.

    Django renders every option through ``select_option.html``: for the 250 countries that was
    about three quarters of a sign form's render (a refused or invalid sign, the confirm page, an
    uncached petition page). The HTML is the same as ``forms.Select``'s (same attributes, same
    escaping; ``tests/test_forms_render.py`` compares them), without option groups, which the
    country list does not use.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        if any(group_name is not None for group_name, _, _ in widget["optgroups"]):
            return super().render(name, value, attrs, renderer)  # option groups: Django's templates
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], flatatt(option["attrs"]), option["label"])
                for _, group, _ in widget["optgroups"]
                for option in group
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


FEED_DISPLAY_CHOICES = [
    ("first", _("My first name")),
    ("first_initial", _("My first name and initial")),
    ("hidden", _("Don't show me")),
]


#: In English, as code and tests compare it; marked for translation, translated where it is shown.
FEED_CHOICE_REQUIRED = gettext_noop("Choose how you appear in the list of signers.")
POSTCODE_CONSENT_LABEL = _("Pass my postcode on to them as well")

#: The fields whose labels make up the consent a signer gives (``consent_text``).
CONSENT_FIELDS = ("feed_display", "share_with_officials", "share_postcode_with_officials", "opt_in_updates")


def officials_receive(page) -> str:
    """What a delivery sends of a signer who ticks the officials box: ``cms.exports`` sends exactly this.

    The postcode goes only with its own box (``share_postcode_with_officials``).
    """
    if getattr(page, "ask_country", True):
        return gettext("They receive your name, your country and the date you signed; never your email address.")
    return gettext("They receive your name and the date you signed; never your email address.")


def consent_text(form) -> str:
    """The consent wording as the form renders it: the label (and help, and choices) of each consent field.

    Its hash is the ``consent_version`` a signature records (``cms.signing.consent_version``).
    """
    lines = []
    for name in CONSENT_FIELDS:
        field = form.fields.get(name)
        if field is None:
            continue
        line = f"{name}: {field.label}"
        if field.help_text:
            line += f" ({field.help_text})"
        if isinstance(field, forms.ChoiceField):
            line += " [" + " | ".join(str(label) for _, label in field.choices) + "]"
        lines.append(line)
    return "\n".join(lines)


def customise_fields(fields, page) -> None:
    """Fit the sign form's ``fields`` to ``page``: its consent wording, the fields it asks.

    Whatever this reads of the page must be in ``page_form_state``, which keys the shared fields.
    """
    if page is None:
        return
    fields["share_with_officials"].label = page.consent_wording
    fields["share_with_officials"].help_text = officials_receive(page)
    if not page.ask_last_name:
        del fields["last_name"]
    if not page.ask_country:
        del fields["country"]
    if not page.ask_postcode:
        del fields["postcode"]
        del fields["share_postcode_with_officials"]


def page_form_state(page) -> tuple:
    """Everything of ``page`` that ``customise_fields`` reads: equal states, equal fields."""
    if page is None:
        return ()
    return (page.consent_wording, officials_receive(page), page.ask_last_name, page.ask_country, page.ask_postcode)


class SharedFields:
    """A page's customised sign form fields, built once, and the consent wording they render."""

    def __init__(self, form_class, page):
        self.fields = copy.deepcopy(form_class.base_fields)
        customise_fields(self.fields, page)
        self.consent_text = consent_text(SimpleNamespace(fields=self.fields))


#: {(form class, page state): SharedFields}; only for our own classes (``SHARING_CLASSES``).
_shared_by_state = {}
MAX_SHARED = 256


def _shared_fields(form_class, page):
    """The fields instances of ``form_class`` share on ``page``, or None where they must copy their own.

    Django deep-copies every field (the 250 countries too) for each form, in case the instance
    changes one; that was the sign request's costliest step after the upsert. Only our own
    classes share: a host's subclass may change its fields per instance (``__init__``, per request).
    """
    if form_class not in SHARING_CLASSES:
        return None
    # The language too: the fields' labels and the consent wording built from them are translated.
    key = (form_class, get_language(), *page_form_state(page))
    shared = _shared_by_state.get(key)
    if shared is None:
        if len(_shared_by_state) >= MAX_SHARED:  # pages edited again and again: start over rather than grow
            _shared_by_state.clear()
        shared = _shared_by_state[key] = SharedFields(form_class, page)
    return shared


class SignatureForm(forms.Form):
    """The sign form. Field limits match the model so bad input is a form error, not a 500."""

    first_name = forms.CharField(max_length=100, label=_("First name"))
    last_name = forms.CharField(max_length=100, label=_("Last name"), required=False)
    email = forms.EmailField(max_length=MAX_LENGTH, label=_("Email"))
    # Callable choices: a form instance then shares the list instead of deep-copying 250 pairs.
    country = forms.ChoiceField(choices=country_choices, required=False, label=_("Country"), widget=FastSelect)
    postcode = forms.CharField(max_length=20, required=False, label=_("Postcode"))
    # No initial value: a pre-selected option is not the signer's choice (issue 10).
    feed_display = forms.ChoiceField(
        choices=FEED_DISPLAY_CHOICES,
        required=True,
        widget=forms.RadioSelect,
        label=_("Show me in the list of signers as"),
        error_messages={"required": _(FEED_CHOICE_REQUIRED)},
    )
    share_with_officials = forms.BooleanField(required=False)
    share_postcode_with_officials = forms.BooleanField(required=False, label=POSTCODE_CONSENT_LABEL)
    opt_in_updates = forms.BooleanField(required=False, label=_("Email me about this campaign"))
    # A honeypot: hidden from people, filled in by naive bots.
    website = forms.CharField(required=False, label=_("Leave this empty"), max_length=200)

    def __init__(self, *args, page=None, **kwargs):
        shared = _shared_fields(type(self), page)
        if shared is None:  # a host's subclass: Django's own copy, which it may change at will
            super().__init__(*args, **kwargs)
            customise_fields(self.fields, page)
        else:
            # Our own classes never change a field after this, so instances share the page's
            # fields (an instance attribute hides base_fields: nothing for Django to deep-copy).
            self.base_fields = {}
            super().__init__(*args, **kwargs)
            del self.base_fields
            self.fields = dict(shared.fields)  # its own dict: a subclass may still delete fields
            self.order_fields(kwargs.get("field_order", self.field_order))
        self._shared = shared
        self.page = page

    def clean_first_name(self):
        name = self.cleaned_data["first_name"].strip()
        if not name:
            raise forms.ValidationError(gettext("Please give your first name."))
        if any(ch in name for ch in "\x00\r\n"):
            raise forms.ValidationError(gettext("Your name cannot contain line breaks."))
        return name

    def clean_email(self):
        """The address as typed (it is the one mailed), if it may sign: not disposable, and storable.

        A punycoded domain can make the canonical form (``cms.addresses.normalize_email``) longer
        than the address typed; the column holds MAX_LENGTH characters of it.
        """
        email = self.cleaned_data["email"]
        if len(normalize_email(email)) > MAX_LENGTH:
            raise forms.ValidationError(
                gettext(
                    "Enter a valid email address: this one is longer than %(max)d characters "
                    "once its domain is written in ASCII."
                )
                % {"max": MAX_LENGTH}
            )
        domain = disposable_domain(email)
        if domain:
            raise forms.ValidationError(
                gettext("%(domain)s gives out disposable addresses, which cannot sign: please use an address you keep.")
                % {"domain": domain}
            )
        return email

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()

    def clean(self):
        cleaned = super().clean()
        display = cleaned.get("feed_display") or "hidden"  # a missing pick is a field error already
        cleaned["show_in_feed"] = display != "hidden"
        cleaned["feed_name"] = "first_initial" if display == "first_initial" else "first"
        # The postcode goes to officials only with both boxes: its own names the postcode, the other them.
        cleaned["share_postcode_with_officials"] = bool(
            cleaned.get("share_postcode_with_officials") and cleaned.get("share_with_officials")
        )
        cleaned["consent_text"] = self._consent_text()
        return cleaned

    def _consent_text(self):
        shared = self._shared
        if shared is not None and all(self.fields.get(name) is shared.fields.get(name) for name in CONSENT_FIELDS):
            return shared.consent_text  # the same field objects, so the same wording
        return consent_text(self)

    @property
    def is_bot(self):
        return bool(self.cleaned_data.get("website"))

    def first_field_to_fill_id(self) -> str:
        """The id the page's "Sign the petition" link jumps to: the first field with an error, else the first shown.

        A radio group's first button stands for its group ("" when the form shows no field).
        """
        shown = self.visible_fields()
        field = next((field for field in shown if field.errors), shown[0] if shown else None)
        if field is None:
            return ""
        return field.id_for_label or (field.subwidgets[0].id_for_label if field.subwidgets else "")


class ConfirmForm(SignatureForm):
    """The confirm page's form: what will be stored and published, for the signer to check or change.

    The sign form without the address (the token names the signature) or the honeypot; its
    consent fields carry the same labels, so the wording recorded on confirming is the one shown.
    """

    def __init__(self, *args, signature=None, **kwargs):
        if signature is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(signature)
        super().__init__(*args, **kwargs)
        del self.fields["email"]
        del self.fields["website"]

    @staticmethod
    def initial_from(signature):
        initial = {name: getattr(signature, name) for name in signature.SIGNER_FIELDS if name != "email"}
        initial["country"] = str(signature.country or "")
        if not signature.show_in_feed:
            initial["feed_display"] = "hidden"
        else:
            initial["feed_display"] = signature.feed_name
        return initial

    def changes(self) -> dict:
        """The signer's fields as confirmed, for ``cms.signing.verify_signature``."""
        cleaned = self.cleaned_data
        signer_fields = ("first_name", "last_name", "country", "postcode", "show_in_feed", "feed_name")
        changes = {name: cleaned[name] for name in signer_fields if name in cleaned}
        for name in ("share_with_officials", "share_postcode_with_officials", "opt_in_updates"):
            if name in self.fields:
                changes[name] = cleaned[name]
        changes["consent_text"] = cleaned["consent_text"]
        return changes


#: The form classes whose instances share their page's fields (``_shared_fields``): ours, never a subclass.
SHARING_CLASSES = frozenset({SignatureForm, ConfirmForm})


#: The page settings that make a petition deliver to officials, or email leads, by itself.
#: Only users with the deliver permission may set them (``PetitionMixin.petition_panels``).
DELIVERY_SETTINGS = (
    "milestone_step",
    "raise_goal_automatically",
    "milestone_notify_emails",
    "deliver_at_goal",
    "deliver_at_milestones",
)


class PetitionPageForm(WagtailAdminPageForm):
    """The page editor's form: records whose decision the page's automatic deliveries are.

    Wagtail leaves the delivery settings out of the form of a user without
    the deliver permission (their panels carry ``permission=DELIVER``), so
    what such a user posts for them is ignored. Whoever saves the form with
    those settings in it has seen and decided them, together with the letter,
    its officials and the goal that an automatic delivery sends or waits for:
    ``delivery_settings_by`` names them. Anyone else who changes the page
    (an editor's draft; a moderator publishing it keeps it as it is) clears
    it, so an automatic delivery of content no lead has seen waits for a
    lead to send it (``cms.deliveries.sends_itself``). Saving without a change
    keeps it: the page is still the one the lead decided on.
    """

    def clean(self):
        cleaned_data = super().clean()
        page = self.instance if self.instance.pk else self.parent_page  # a new page: its campaign's grant
        if can_deliver(self.for_user, page) and any(name in self.fields for name in DELIVERY_SETTINGS):
            self.instance.delivery_settings_by = self.for_user
        elif self.has_changed():
            self.instance.delivery_settings_by = None
        return cleaned_data
