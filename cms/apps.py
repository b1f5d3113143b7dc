from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionsCmsConfig(AppConfig):
    # A label a host project is unlikely to have already (not a bare "cms").
    name = "cms"
    label = "petitions_cms"
    verbose_name = _("Petitions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # System checks and the plugin's own signal receivers register themselves on import.
        from . import challenge, checks, receivers, webhook_receivers  # noqa: F401
