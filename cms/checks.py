from django.conf import settings
from django.core.checks import Error, Warning, register

from .conf import get_setting


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
    return messages
