"""One petition, many translations: which page's id the signatures, counts and feeds of a page go under.

Every translation of a petition page (the pages that share a ``translation_key``: wagtail-localize's
translations, or ``Page.copy_for_translation``'s) counts against its *canonical* page: the page the
others were translated from, i.e. the group's first page (lowest id). Signatures store that id, and
every count, feed, stats row, milestone, delivery, token and store key reads it, so signing on
``/fr/<slug>/`` counts on ``/<slug>/`` and both show one total and one feed (as UK e-petitions
shares them between English and Welsh). The first page rather than the default locale's: adding a
default-language translation later never moves a petition's signatures to another id.

A page's canonical id never changes while the page exists (its group's first page is deleted only
with its signatures), so each process keeps it after one query: pages render and sign with no query
more. Without translations the canonical id is the page's own.

A signer's language is the page's locale (``page_language``), kept on the signature; a code the site
does not offer (an old row, a locale since removed) reads as the default language, never an error.
"""

import functools

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from wagtail.models import Locale, Page

#: {page id: canonical page id}, per process (see the module's docstring). Bounded: cleared when full.
_CANONICAL = {}
#: {locale id: language code}, per process: a page's language without loading its locale row.
_LANGUAGES = {}
MAX_ITEMS = 10_000


def default_language() -> str:
    return supported_language(settings.LANGUAGE_CODE, fallback="en")


def supported_language(code, fallback=None) -> str:
    """``code`` as one of the site's LANGUAGES (``fr-ca`` reads ``fr``), or the default language."""
    try:
        return translation.get_supported_language_variant(code or "")
    except LookupError:
        return fallback if fallback is not None else default_language()


def canonical_id(page) -> int:
    """The id the signatures and counts of ``page`` go under (its own for a page with no translations)."""
    pk = page.pk
    cached = _CANONICAL.get(pk)
    if cached is None:
        key = getattr(page, "translation_key", None)
        group = Page.objects.filter(translation_key=key) if key is not None else Page.objects.filter(pk=pk)
        cached = group.order_by("pk").values_list("pk", flat=True).first() or pk
        _remember(pk, cached)
    return cached


def canonical_id_for(page_id: int) -> int | None:
    """``canonical_id`` from a page id alone (``count.json``): None when no such page exists."""
    cached = _CANONICAL.get(page_id)
    if cached is None:
        keys = Page.objects.filter(pk=page_id).values("translation_key")
        cached = Page.objects.filter(translation_key__in=keys).order_by("pk").values_list("pk", flat=True).first()
        if cached is None:
            return None
        _remember(page_id, cached)
    return cached


def canonical_ids(page_ids) -> dict:
    """{page id: canonical id} for many pages in two queries (the reconcile's list of open petitions)."""
    keys = dict(Page.objects.filter(pk__in=list(page_ids)).values_list("pk", "translation_key"))
    firsts = {}
    for key, pk in Page.objects.filter(translation_key__in=set(keys.values())).values_list("translation_key", "pk"):
        firsts[key] = min(pk, firsts.get(key, pk))
    return {pk: firsts.get(key, pk) for pk, key in keys.items()}


def _remember(pk, canonical):
    if len(_CANONICAL) >= MAX_ITEMS:
        _CANONICAL.clear()
    _CANONICAL[pk] = canonical


def page_language(page) -> str:
    """The language of ``page``'s locale, as one of the site's LANGUAGES (the default when it is not one)."""
    locale_id = getattr(page, "locale_id", None)
    if locale_id is None:
        return default_language()
    code = _LANGUAGES.get(locale_id)
    if code is None:
        code = Locale.objects.filter(pk=locale_id).values_list("language_code", flat=True).first() or ""
        if len(_LANGUAGES) >= MAX_ITEMS:
            _LANGUAGES.clear()
        _LANGUAGES[locale_id] = code
    return supported_language(code)


def translation_for(page, language: str):
    """The translation of ``page`` in ``language`` (live, specific), or ``page`` itself when it has none.

    For the verification email: a signer who signed the French page gets the French page's wording
    and links. One query per call: the email worker calls it once per petition and language a batch.
    """
    language = supported_language(language)
    if page_language(page) == language:
        return page
    translated = (
        Page.objects.live()
        .filter(translation_key=page.translation_key, locale__language_code=language)
        .exclude(pk=page.pk)
        .first()
    )
    return translated.specific if translated is not None else page


def page_language_active(page):
    """A context manager: ``page``'s language active inside it (``translation.override``)."""
    return translation.override(page_language(page))


def rendered_in_page_language(render):
    """Decorate ``render(page, ...)`` to run with the page's language active (an email of the page)."""

    @functools.wraps(render)
    def rendered(page, *args, **kwargs):
        with page_language_active(page):
            return render(page, *args, **kwargs)

    return rendered


def in_page_language(page, serve, request):
    """``serve(request)`` rendered in the page's language, whatever the request's own.

    The plugin's endpoints (``petitions/<id>/sign/``, ``confirm/``, ``manage/``) have no language
    prefix, so the request's language is its Accept-Language; a French page's answer (its errors, its
    thank-you copy, which each process shares among signers: ``cms.landing_copies``) must be in French
    all the same. A template response is rendered inside the override, not later in another language.
    """
    language = page_language(page)
    if language == translation.get_language():
        return serve(request)
    with translation.override(language):
        request.LANGUAGE_CODE = language
        response = serve(request)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
    response.headers["Content-Language"] = language
    return response


def forget(sender=None, instance=None, **kwargs):
    """Forget what this process knows of a page (deleted) or of every page (tests: ids are reused)."""
    if instance is None:
        _CANONICAL.clear()
        _LANGUAGES.clear()
        return
    if not isinstance(instance, Page):  # post_delete fires for every model
        return
    pk = instance.pk
    for page_id in [page_id for page_id, canonical in _CANONICAL.items() if pk in (page_id, canonical)]:
        _CANONICAL.pop(page_id, None)


def in_requested_language(view):
    """Wrap an API view to answer in the language its client asks for (``Accept-Language``).

    API paths carry no language prefix, and with ``i18n_patterns(prefix_default_language=False)``
    Django's LocaleMiddleware gives every unprefixed path the default language whatever the header
    says; an API client has no other way to ask, so its views negotiate the header themselves.
    """
    if not settings.USE_I18N:
        return view

    @functools.wraps(view)
    def answer(request, *args, **kwargs):
        language = translation.get_language_from_request(request, check_path=False)
        with translation.override(language):
            response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language",))  # a shared cache keeps one copy per language
        return response

    return answer
