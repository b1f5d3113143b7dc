from anymail.backends.base_requests import AnymailRequestsBackend
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from PIL import ImageFont

from .clientip import trusted_proxies
from .conf import get_setting, get_signature_model
from .models import AbstractSignature  # imported from ready(): the models are loaded


@register()
def check_petitions_settings(app_configs, **kwargs):
    messages = []
    alias = get_setting("CACHE_ALIAS")
    if alias not in settings.CACHES:
        messages.append(
            Error(
                f"PETITIONS['CACHE_ALIAS'] names cache {alias!r}, which is not in CACHES.",
                id="petitions.E001",
            )
        )
    elif settings.CACHES[alias]["BACKEND"].endswith(("locmem.LocMemCache", "dummy.DummyCache")):
        messages.append(
            Warning(
                "The petitions cache is process-local: live counts and feeds will differ "
                "between web and worker processes.",
                hint="Point PETITIONS['CACHE_ALIAS'] at a Redis (or file-based) cache.",
                id="petitions.W001",
            )
        )
    if not getattr(settings, "CELERY_BROKER_URL", None) and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        messages.append(
            Warning(
                "No CELERY_BROKER_URL is set: verification emails are queued for a worker that may not be listening.",
                id="petitions.W002",
            )
        )
    messages += _check_swappables()
    messages += _check_rate_limits()
    messages += _check_retention()
    messages += _check_esp_timeout()
    return messages


def _check_swappables():
    messages = []
    try:
        model = get_signature_model()
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), id="petitions.E002"))
    else:
        if not issubclass(model, AbstractSignature):
            messages.append(
                Error(
                    f"PETITIONS['SIGNATURE_MODEL'] names {model._meta.label}, which is not a subclass of "
                    "cms.models.AbstractSignature.",
                    id="petitions.E002",
                )
            )
    path = get_setting("STORE")
    if path:
        try:
            import_string(path)
        except ImportError as exc:
            messages.append(Error(f"PETITIONS['STORE'] cannot be imported: {exc}", id="petitions.E003"))
    return messages


def _check_rate_limits():
    messages = []
    if get_setting("RATE_LIMIT_ALLOW") and not settings.DEBUG:
        messages.append(
            Error(
                "PETITIONS['RATE_LIMIT_ALLOW'] is set with DEBUG off: it is honoured only in DEBUG. Behind a "
                "proxy it would name the proxy, and switch the sign rate limit off for every visitor.",
                hint="Remove it. Behind a proxy, set PETITIONS['TRUSTED_PROXIES'] (the number of proxies, or "
                "their networks) so each visitor is limited on their own address; to allow more signatures, "
                "raise RATE_LIMIT and RATE_LIMIT_SUSTAINED.",
                id="petitions.E020",
            )
        )
    try:
        trusted_proxies()
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), id="petitions.E021"))
    for name in ("RATE_LIMIT", "RATE_LIMIT_WINDOW", "RATE_LIMIT_SUSTAINED", "RATE_LIMIT_SUSTAINED_WINDOW"):
        value = get_setting(name)
        if value is None and not name.endswith("_WINDOW"):
            continue  # that limit is off
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            what = "seconds" if name.endswith("_WINDOW") else "attempts (or None: no limit)"
            messages.append(
                Error(
                    f"PETITIONS[{name!r}] must be a whole number of {what} above 0, not {value!r}.", id="petitions.E022"
                )
            )
    return messages


def _check_retention():
    messages = []
    for name in ("RETENTION_UNVERIFIED_DAYS", "RETENTION_ANONYMISE_MONTHS", "RETENTION_DELIVERY_FILES_DAYS",
                 "RETENTION_BATCH"):  # fmt: skip
        value = get_setting(name)
        if value is None and name != "RETENTION_BATCH":
            continue  # that job is off
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            messages.append(
                Error(
                    f"PETITIONS[{name!r}] must be a whole number above 0"
                    f"{'' if name == 'RETENTION_BATCH' else ' (or None: never)'}, not {value!r}.",
                    id="petitions.E041",
                )
            )
    days = get_setting("RETENTION_UNVERIFIED_DAYS")
    if isinstance(days, int) and days * 24 * 3600 < get_setting("VERIFY_TOKEN_MAX_AGE"):
        messages.append(
            Warning(
                f"PETITIONS['RETENTION_UNVERIFIED_DAYS'] ({days}) is shorter than a verification link lives "
                "(VERIFY_TOKEN_MAX_AGE): a signer could follow a valid link to a signature already deleted.",
                hint="Keep unverified signatures at least as long as VERIFY_TOKEN_MAX_AGE.",
                id="petitions.W040",
            )
        )
    try:
        model = get_signature_model()
    except ImproperlyConfigured:
        return messages  # petitions.E002 says so
    names = {field.name for field in model._meta.get_fields()}
    unknown = [name for name in getattr(model, "PERSONAL_FIELDS", ()) if name not in names]
    if unknown:
        messages.append(
            Error(
                f"{model._meta.label}.PERSONAL_FIELDS names {', '.join(unknown)}, which the model does not have: "
                "retention could not anonymise its signatures.",
                id="petitions.E040",
            )
        )
    return messages


#: Seconds an ESP request may take before petitions.W060 warns (connect and read together).
ESP_TIMEOUT_WARNING = 60


def _check_esp_timeout():
    """Warn when anymail's HTTP backend may wait long on a hanging ESP.

    A send task holds a worker, and the signature row it is sending, for as long as the ESP takes
    to answer; anymail waits 30 s by default, and without the setting a host may not know it.
    Only anymail's requests-based backends read ``REQUESTS_TIMEOUT``: others (SES on boto3, SMTP,
    the test backend) are not checked.
    """
    path = getattr(settings, "EMAIL_BACKEND", "")
    if not path.startswith("anymail.backends."):
        return []
    try:
        if not issubclass(import_string(path), AnymailRequestsBackend):
            return []
    except ImportError:
        return []  # anymail's own check reports a backend that cannot load
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    timeout = anymail.get("REQUESTS_TIMEOUT", getattr(settings, "ANYMAIL_REQUESTS_TIMEOUT", None))
    hint = (
        "Set ANYMAIL['REQUESTS_TIMEOUT'] to (connect, read) seconds, e.g. (3.05, 10): a timeout is retried "
        "with backoff, so a short one loses no email."
    )
    if timeout is None:
        return [
            Warning(
                "ANYMAIL['REQUESTS_TIMEOUT'] is not set: a hanging ESP holds a worker (and the email's row) "
                "for anymail's default of 30 s per email.",
                hint=hint,
                id="petitions.W060",
            )
        ]
    try:
        total = sum(float(part) for part in timeout) if isinstance(timeout, list | tuple) else float(timeout)
    except (TypeError, ValueError):
        return []  # not ours to judge: requests refuses it loudly on the first send
    if total > ESP_TIMEOUT_WARNING:
        return [
            Warning(
                f"ANYMAIL['REQUESTS_TIMEOUT'] allows {total:g} s per ESP request: a hanging ESP holds a worker "
                "(and the email's row) that long per email.",
                hint=hint,
                id="petitions.W060",
            )
        ]
    return []


PAGE_CACHE = "cms.middleware.PetitionPageCacheMiddleware"
OUTAGE = "cms.middleware.OutageMiddleware"
#: Middleware that read the database: an outage there is a 503 only with OutageMiddleware before them.
READS_THE_DATABASE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
)


@register()
def check_outage_middleware(app_configs, **kwargs):
    """The outage middleware is installed, before what reads the database (README, install step 3)."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if OUTAGE not in middleware:
        if PAGE_CACHE not in middleware:
            return []  # a site without the plugin's middleware at all: its own choice
        return [
            Warning(
                f"{OUTAGE} is not in MIDDLEWARE: while the database or Redis is down, visitors get "
                "Django's 500 page instead of a 503 with Retry-After that says what happened.",
                hint=f"Add it to MIDDLEWARE just before {PAGE_CACHE}.",
                id="petitions.W050",
            )
        ]
    later = [name for name in READS_THE_DATABASE if name in middleware[: middleware.index(OUTAGE)]]
    if later:
        return [
            Warning(
                f"{OUTAGE} comes after {', '.join(later)}: an outage there is Django's 500 page, not a 503.",
                hint=f"Move it before them (and before {PAGE_CACHE}).",
                id="petitions.W051",
            )
        ]
    return []


LOCALE = "django.middleware.locale.LocaleMiddleware"


@register()
def check_languages(app_configs, **kwargs):
    """With Wagtail's i18n on, LocaleMiddleware is what makes /fr/… pages reachable (README, Languages)."""
    if not getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        return []
    if LOCALE not in list(getattr(settings, "MIDDLEWARE", None) or ()):
        return [
            Warning(
                f"WAGTAIL_I18N_ENABLED is on but {LOCALE} is not in MIDDLEWARE: pages under i18n_patterns "
                "(/fr/…, /ar/…) are not found, so translated petitions cannot be read or signed.",
                hint="Add it after SessionMiddleware and before CommonMiddleware.",
                id="petitions.W070",
            )
        ]
    return []


@register()
def check_share_card_font(app_configs, **kwargs):
    """PETITIONS["SHARE_CARD_FONT"] is a font Pillow can open: otherwise every share card would fail to draw."""
    path = get_setting("SHARE_CARD_FONT")
    if not path:
        return []
    try:
        ImageFont.truetype(path, 20)
    except OSError as exc:
        return [
            Error(
                f"PETITIONS['SHARE_CARD_FONT'] is {path!r}, which Pillow cannot open as a font: {exc}.",
                hint="Give the path of a TrueType or OpenType file, or None for the shipped Noto fonts.",
                id="petitions.E071",
            )
        ]
    return []
