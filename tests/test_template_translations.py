"""The templates' strings in French and Arabic: direction, plural forms, and the shipped catalogs.

The catalogs are compiled here with polib into a folder of this test's own (``LOCALE_PATHS``), so the
test needs no gettext tools and no compiled file in the repository.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import polib
import pytest
from django.template.loader import render_to_string
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "cms" / "locale"
TEMPLATES = ROOT / "templates"
PLURALS = {"fr": 2, "ar": 6}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture
def compiled_catalogs(settings, tmp_path):
    for lang in PLURALS:
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        polib.pofile(str(CATALOGS / lang / "LC_MESSAGES" / "django.po")).save_as_mofile(str(folder / "django.mo"))
    # Changing LOCALE_PATHS clears Django's loaded translations (django.test.signals).
    settings.LOCALE_PATHS = [str(tmp_path)]


def delivery_letter(total):
    delivery = SimpleNamespace(
        salutation="",
        letter_text="Letter.",
        sign_off="",
        total=total,
        first_signed_at=None,
        breakdown=False,
        include_list=False,
        rows_total=0,
    )
    petition = SimpleNamespace(full_url="https://example.org/p/", get_privacy_url="https://example.org/p/privacy/")
    return render_to_string("petitions/email/delivery.txt", {"delivery": delivery, "petition": petition})


@pytest.mark.parametrize(("lang", "direction"), [("ar", "rtl"), ("fr", "ltr"), ("en-gb", "ltr")])
def test_pages_carry_the_language_and_its_direction(lang, direction):
    with translation.override(lang):
        html = render_to_string("petitions/unavailable.html", {"retry_after": 30})

    assert f'<html lang="{lang}" dir="{direction}">' in html


def test_the_verification_email_is_right_to_left_in_arabic():
    with translation.override("ar"):
        html = render_to_string("petitions/email/verify_signature.html", {"paragraphs": [], "privacy_url": "/p/"})

    assert '<html lang="ar" dir="rtl">' in html
    assert re.search(r'<body dir="rtl" style="[^"]*text-align: start;', html)


def test_a_count_of_one_is_singular_in_english():
    with translation.override("en-gb"):
        assert "1 person signed this letter." in delivery_letter(1)
        assert "2 people signed this letter." in delivery_letter(2)


@pytest.mark.parametrize(
    ("lang", "total", "expected"),
    [
        ("fr", 1, "1 personne a signé cette lettre."),
        ("fr", 3, "3 personnes ont signé cette lettre."),
        ("ar", 1, "1 شخص وقّع هذه الرسالة."),
        ("ar", 2, "2 شخصان وقّعا هذه الرسالة."),
        ("ar", 3, "3 أشخاص وقّعوا هذه الرسالة."),
        ("ar", 11, "11 شخصًا وقّعوا هذه الرسالة."),
        ("ar", 100, "100 شخص وقّعوا هذه الرسالة."),
    ],
)
def test_the_catalogs_pick_the_plural_form_of_the_count(compiled_catalogs, lang, total, expected):
    with translation.override(lang):
        assert expected in delivery_letter(total)


def test_the_catalogs_translate_the_page_chrome(compiled_catalogs):
    with translation.override("fr"):
        french = render_to_string("petitions/unavailable.html", {"retry_after": 30})
    with translation.override("ar"):
        arabic = render_to_string("petitions/unavailable.html", {"retry_after": 30})

    assert "Veuillez réessayer dans 30 secondes." in french
    assert "يُرجى المحاولة مجددًا بعد 30 ثانيةً." in arabic
    assert "Please try again" not in french + arabic


@pytest.mark.parametrize("lang", PLURALS)
def test_every_entry_of_a_shipped_catalog_is_translated_with_its_placeholders(lang):
    catalog = polib.pofile(str(CATALOGS / lang / "LC_MESSAGES" / "django.po"))

    assert f"nplurals={PLURALS[lang]};" in catalog.metadata["Plural-Forms"]
    assert catalog.percent_translated() == 100
    assert not catalog.fuzzy_entries()
    for entry in catalog:
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        assert len(translations) == (PLURALS[lang] if entry.msgid_plural else 1), entry.msgid
        for text in translations:
            assert text and set(PLACEHOLDER.findall(text)) == wanted, (entry.msgid, text)


def test_every_template_loads_the_translation_tags():
    missing = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*")
        if path.is_file() and not re.search(r"{% load [^%]*\bi18n\b", path.read_text())
    ]

    assert missing == []
