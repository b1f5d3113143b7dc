from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionsWorkersConfig(AppConfig):
    name = "workers"
    label = "petitions_workers"
    verbose_name = _("Petition workers")
    default_auto_field = "django.db.models.BigAutoField"
