from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

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
