from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from . import checks  # noqa: F401  (registers petitions.E010: are 'cms' and 'workers' ours?)


class PetitionBlocksConfig(AppConfig):
    name = "petition_blocks"
    label = "petition_blocks"
    verbose_name = _("Petition blocks")
    default_auto_field = "django.db.models.BigAutoField"
