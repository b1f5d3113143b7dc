from django import forms
from django_countries import countries
from wagtail.admin.forms import WagtailAdminPageForm

from .addresses import MAX_LENGTH, disposable_domain, normalize_email
from .permissions import can_deliver


def country_choices():
    return [("", "—"), *countries]


FEED_DISPLAY_CHOICES = [
    ("first", "My first name"),
    ("first_initial", "My first name and initial"),
    ("hidden", "Don't show me"),
]


class SignatureForm(forms.Form):
    """The sign form. Field limits match the model so bad input is a form error, not a 500."""

    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, label="Last name", required=False)
    email = forms.EmailField(max_length=MAX_LENGTH, label="Email")
    # Callable choices: a form instance then shares the list instead of deep-copying 250 pairs.
    country = forms.ChoiceField(choices=country_choices, required=False, label="Country")
    postcode = forms.CharField(max_length=20, required=False, label="Postcode")
    feed_display = forms.ChoiceField(
        choices=FEED_DISPLAY_CHOICES,
        initial="first",
        required=False,
        widget=forms.RadioSelect,
        label="Show me in the list of signers as",
    )
    share_with_officials = forms.BooleanField(required=False)
    opt_in_updates = forms.BooleanField(required=False, label="Email me about this campaign")
    # A honeypot: hidden from people, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty", max_length=200)

    def __init__(self, *args, page=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        if page is not None:
            self.fields["share_with_officials"].label = page.consent_wording
            if not page.ask_last_name:
                del self.fields["last_name"]
            if not page.ask_country:
                del self.fields["country"]
            if not page.ask_postcode:
                del self.fields["postcode"]

    def clean_first_name(self):
        name = self.cleaned_data["first_name"].strip()
        if not name:
            raise forms.ValidationError("Please give your first name.")
        if any(ch in name for ch in "\x00\r\n"):
            raise forms.ValidationError("Your name cannot contain line breaks.")
        return name

    def clean_email(self):
        """The address as typed (it is the one mailed), if it may sign: not disposable, and storable.

        A punycoded domain can make the canonical form (``cms.addresses.normalize_email``) longer
        than the address typed; the column holds MAX_LENGTH characters of it.
        """
        email = self.cleaned_data["email"]
        if len(normalize_email(email)) > MAX_LENGTH:
            raise forms.ValidationError(
                f"Enter a valid email address: this one is longer than {MAX_LENGTH} characters "
                "once its domain is written in ASCII."
            )
        domain = disposable_domain(email)
        if domain:
            raise forms.ValidationError(
                f"{domain} gives out disposable addresses, which cannot sign: please use an address you keep."
            )
        return email

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()

    def clean(self):
        cleaned = super().clean()
        # No choice (an old form, an API client) shows nobody: the feed is opt-in.
        display = cleaned.get("feed_display") or "hidden"
        cleaned["show_in_feed"] = display != "hidden"
        cleaned["feed_name"] = "first_initial" if display == "first_initial" else "first"
        return cleaned

    @property
    def is_bot(self):
        return bool(self.cleaned_data.get("website"))


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
