"""Canonical addresses: one inbox is one signer, however its address is typed; disposable domains sign nothing.

The table runs each address through the sign form's email field (what the page and the JSON API
validate with) and compares the canonical forms ``normalize_email`` gives the cleaned values.
"""

import pytest

from cms.addresses import normalize_email
from cms.forms import SignatureForm

SAME, DIFFERENT, INVALID, DISPOSABLE = "same inbox", "different inboxes", "invalid", "disposable"

#: A domain whose ASCII (punycode) form makes the address longer than the 254 characters a column
#: holds, though the address as typed is 174 characters long and Django's validator accepts it.
LONG_IDN_DOMAIN = ".".join(["äöüéèêëïîôûçñ"] * 12) + ".de"

ADDRESSES = [
    # Case and surrounding whitespace fold everywhere.
    ("Ada@Example.org", "ada@example.org", SAME),
    ("  ada@example.org \n", "ada@example.org", SAME),
    ("ADA@EXAMPLE.ORG", "ada@example.org", SAME),
    # Gmail ignores dots and +tags, and googlemail.com is gmail.com: the four addresses of the finding.
    ("a.da@gmail.com", "ada@gmail.com", SAME),
    ("ada+1@gmail.com", "ada@gmail.com", SAME),
    ("a.d.a+x@googlemail.com", "ada@gmail.com", SAME),
    ("a.da+x@googlemail.com", "ada@gmail.com", SAME),
    ("A.D.A@GMail.Com", "ada@gmail.com", SAME),
    ("ada+news+2026@gmail.com", "ada@gmail.com", SAME),
    # Providers that document +tags (sub-addressing); their dots count.
    ("ada+x@outlook.com", "ada@outlook.com", SAME),
    ("ada+x@hotmail.com", "ada@hotmail.com", SAME),
    ("ada+x@live.com", "ada@live.com", SAME),
    ("ada+x@fastmail.com", "ada@fastmail.com", SAME),
    ("ada+x@proton.me", "ada@proton.me", SAME),
    ("ada+x@protonmail.com", "ada@pm.me", SAME),
    ("ada+x@icloud.com", "ada@me.com", SAME),
    # Yahoo's disposable addresses are base-keyword: two keywords of one base name are one inbox.
    ("ada-shop@yahoo.com", "ada-news@yahoo.com", SAME),
    # One domain typed two ways: Unicode and punycode, any case, full-width letters.
    ("ada@bücher.example", "ada@xn--bcher-kva.example", SAME),
    ("ada@BÜCHER.example", "ada@bücher.example", SAME),
    ("ada@XN--BCHER-KVA.EXAMPLE", "ada@bücher.example", SAME),
    ("ada@ｅｘａｍｐｌｅ.org", "ada@example.org", SAME),
    # What no provider documents stays apart.
    ("a.da@example.org", "ada@example.org", DIFFERENT),
    ("ada+tag@example.org", "ada@example.org", DIFFERENT),
    ("a.da@outlook.com", "ada@outlook.com", DIFFERENT),
    ("ada+x@yahoo.com", "ada@yahoo.com", DIFFERENT),
    ("ada-x@yahoo.com", "ada@yahoo.com", DIFFERENT),
    ("ada@straße.de", "ada@strasse.de", DIFFERENT),
    ("ada@example.org", "ada@example.com", DIFFERENT),
    # Not addresses.
    ("@example.org", None, INVALID),
    ("ada@", None, INVALID),
    ("ada@@x.org", None, INVALID),
    ("ada", None, INVALID),
    ("ada@example", None, INVALID),
    ("a..da@example.org", None, INVALID),
    ("ada @example.org", None, INVALID),
    ("a" * 250 + "@example.org", None, INVALID),
    (f"ada@{LONG_IDN_DOMAIN}", None, INVALID),
    # Disposable domains, a subdomain of one, in any case.
    ("ada@mailinator.com", None, DISPOSABLE),
    ("ada@inbox.mailinator.com", None, DISPOSABLE),
    ("ADA@Mailinator.COM", None, DISPOSABLE),
]


def email_errors(address):
    """The sign form's cleaned email and the errors on its email field."""
    form = SignatureForm({"first_name": "Ada", "email": address})
    form.is_valid()
    return form.cleaned_data.get("email"), form.errors.get("email", [])


@pytest.mark.parametrize(("address", "other", "relation"), ADDRESSES)
def test_an_address_is_one_inbox_with_another_or_apart_or_refused(address, other, relation):
    cleaned, errors = email_errors(address)

    if relation == INVALID:
        assert errors, f"{address!r} should be refused"
        assert not any("disposable" in error for error in errors)
        return
    if relation == DISPOSABLE:
        assert any("disposable" in error for error in errors), errors
        return
    other_cleaned, other_errors = email_errors(other)
    assert errors == other_errors == []
    if relation == SAME:
        assert normalize_email(cleaned) == normalize_email(other_cleaned)
    else:
        assert normalize_email(cleaned) != normalize_email(other_cleaned)


@pytest.mark.parametrize("address", [row[0] for row in ADDRESSES if row[2] in (SAME, DIFFERENT)])
def test_the_canonical_form_is_its_own_canonical_form_and_fits_the_column(address):
    canonical = normalize_email(address)

    assert normalize_email(canonical) == canonical
    assert len(canonical) <= 254
    assert canonical.isascii() and canonical == canonical.lower()


def test_the_address_as_typed_is_what_the_form_keeps(address="  A.Da+x@GoogleMail.com "):
    cleaned, errors = email_errors(address)

    assert errors == []
    assert cleaned == "A.Da+x@GoogleMail.com"  # mailed as typed (less the surrounding spaces)
    assert normalize_email(cleaned) == "ada@gmail.com"


def test_a_site_chooses_its_providers_in_the_email_providers_setting(settings):
    settings.PETITIONS = {**settings.PETITIONS, "EMAIL_PROVIDERS": {"example.org": {"tag": "+", "dots": False}}}

    assert normalize_email("a.da+x@Example.org") == "ada@example.org"
    assert normalize_email("a.da+x@gmail.com") == "a.da+x@gmail.com"  # not listed any more: case only


def test_a_provider_domain_folds_into_its_main_domain(settings):
    settings.PETITIONS = {**settings.PETITIONS, "EMAIL_PROVIDERS": {"example.net": {"domain": "example.org"}}}

    assert normalize_email("Ada@example.net") == normalize_email("ada@example.org") == "ada@example.org"
    assert normalize_email("ada+x@example.net") == "ada+x@example.org"  # no tag rule: the tag counts


def test_a_disposable_domain_the_site_trusts_may_sign(settings):
    settings.PETITIONS = {**settings.PETITIONS, "DISPOSABLE_DOMAINS_ALLOWED": ["mailinator.com"]}

    assert email_errors("ada@mailinator.com")[1] == []


def test_the_disposable_refusal_names_the_domain_and_says_what_to_do():
    _, errors = email_errors("ada@Mailinator.com")

    assert errors == [
        "mailinator.com gives out disposable addresses, which cannot sign: please use an address you keep."
    ]


def test_a_tag_with_nothing_before_it_is_part_of_the_address():
    assert normalize_email("+x@gmail.com") != normalize_email("+y@gmail.com")
    assert normalize_email("-x@yahoo.com") == "-x@yahoo.com"


def test_something_that_is_not_an_address_still_folds_without_an_error():
    # Old rows and custom callers may hold anything; the canonical form never raises.
    assert normalize_email("") == ""
    assert normalize_email(None) == ""
    assert normalize_email(" No At Sign ") == "no at sign"
    assert normalize_email("ada@[IPv6:2001:DB8::1]") == "ada@[ipv6:2001:db8::1]"
