"""The sign form's fast country select renders exactly what Django's Select would."""

import pytest
from django import forms
from django.test.html import parse_html

from cms.forms import FastSelect, SignatureForm, country_choices


@pytest.mark.parametrize("value", ["", "FR", "GB", None, "<script>", "ZZ"])
@pytest.mark.parametrize(
    "attrs", [None, {"id": "id_country"}, {"id": "c", "required": True, "aria-invalid": "true", "disabled": False}]
)
def test_the_fast_select_renders_the_same_html_as_djangos_select(value, attrs):
    fast = FastSelect(choices=country_choices()).render("country", value, attrs)
    django = forms.Select(choices=country_choices()).render("country", value, attrs)

    assert parse_html(fast) == parse_html(django)


def test_labels_and_values_are_escaped():
    html = FastSelect(choices=[('"><b>x', "<i>Land</i> & co")]).render("country", '"><b>x')

    assert "<b>" not in html and "<i>" not in html
    assert "&lt;i&gt;Land&lt;/i&gt; &amp; co" in html
    assert "selected" in html


def test_the_sign_form_renders_its_bound_country_with_its_error_attributes():
    form = SignatureForm({"first_name": "A", "email": "a@example.org", "country": "XX", "feed_display": "first"})
    assert not form.is_valid()

    rendered = parse_html(str(form["country"]))
    expected = parse_html(
        forms.Select(choices=country_choices()).render(
            "country", "XX", form["country"].build_widget_attrs({"id": "id_country"})
        )
    )
    assert rendered == expected
    assert 'aria-invalid="true"' in str(form["country"])
