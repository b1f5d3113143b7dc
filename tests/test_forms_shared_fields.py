"""Our sign forms share their page's fields instead of deep-copying them, with nothing changed or leaked.

A host's subclass takes Django's path (its own deep copy per instance), so it is the reference
the shared path is compared with: same HTML, same errors, same cleaned data, same consent text.
"""

import pytest
from django.test.html import parse_html

from cms.forms import ConfirmForm, SignatureForm, consent_text
from cms.models import PetitionPage

pytestmark = pytest.mark.django_db  # an unsaved page still looks up its content type


class HostForm(SignatureForm):
    """A host's subclass, unchanged: Django's deep-copying path."""


class HostConfirmForm(ConfirmForm):
    pass


PAGE_STATES = [
    {},
    {"ask_last_name": False, "ask_country": False},
    {"ask_postcode": True, "consent_wording": "Send <b>my</b> name & town to the council"},
]

VALID = {"first_name": " Ada ", "last_name": "Lovelace", "email": "ada@example.org", "feed_display": "first_initial"}
INVALID = {"first_name": "<script>x</script>\n", "email": "not-an-address", "country": "ZZ", "postcode": "9" * 30}


def page(**state):
    return PetitionPage(title="Petition", slug="petition", **state)  # unsaved: the form reads fields only


@pytest.mark.parametrize("state", PAGE_STATES)
@pytest.mark.parametrize("data", [None, VALID, INVALID, {**VALID, "share_with_officials": "on", "opt_in_updates": "1"}])
@pytest.mark.parametrize(("ours", "hosts"), [(SignatureForm, HostForm), (ConfirmForm, HostConfirmForm)])
def test_a_shared_form_validates_and_renders_as_a_deep_copied_one(state, data, ours, hosts):
    petition = page(**state)
    shared, copied = ours(data, page=petition), hosts(data, page=petition)

    assert shared.is_valid() == copied.is_valid() == (data is not None and shared.is_valid())
    assert shared.errors == copied.errors
    assert getattr(shared, "cleaned_data", None) == getattr(copied, "cleaned_data", None)
    assert list(shared.fields) == list(copied.fields)
    assert consent_text(shared) == consent_text(copied) == shared._consent_text()
    assert parse_html(str(shared)) == parse_html(str(copied))


def test_forms_of_one_page_share_fields_but_never_data_or_errors():
    petition = page()
    first = SignatureForm(INVALID, page=petition)
    second = SignatureForm({**VALID, "first_name": "Grace"}, page=petition)

    assert first.fields["email"] is second.fields["email"]  # the fast path is taken
    assert not first.is_valid() and second.is_valid()
    assert second.errors == {}
    html = str(second)
    assert "not-an-address" not in html and "Enter a valid email" not in html and "aria-invalid" not in html
    assert "Grace" in html
    assert "Grace" not in str(first) and "not-an-address" in str(first)
    assert SignatureForm(page=petition).errors == {}


def test_editing_the_page_gives_its_forms_the_new_wording():
    petition = page(consent_wording="Pass my name on")
    before = SignatureForm(page=petition)
    petition.consent_wording = "Pass my name on to the minister"
    petition.ask_country = False
    after = SignatureForm(VALID, page=petition)

    assert after.fields["share_with_officials"].label == "Pass my name on to the minister"
    assert "country" not in after.fields and "country" in before.fields
    assert after.is_valid()
    assert "Pass my name on to the minister" in after.cleaned_data["consent_text"]
    assert after.cleaned_data["consent_text"] == consent_text(HostForm(page=petition))


def test_a_form_changing_its_own_fields_changes_no_other_form():
    petition = page()
    confirm = ConfirmForm(page=petition)
    changed = SignatureForm(page=petition)
    del changed.fields["opt_in_updates"]

    assert "email" not in confirm.fields and "email" in SignatureForm(page=petition).fields
    assert "opt_in_updates" in SignatureForm(page=petition).fields
    assert "opt_in_updates" not in changed._consent_text()  # its own fields' wording, not the shared one


def test_a_hosts_subclass_gets_its_own_fields():
    class PerRequestForm(SignatureForm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["first_name"].label = "Given name"

    petition = page()
    host = PerRequestForm(page=petition)

    assert host.fields["first_name"] is not SignatureForm(page=petition).fields["first_name"]
    assert SignatureForm(page=petition).fields["first_name"].label == "First name"
