from django.apps import AppConfig


class PetitionBlocksConfig(AppConfig):
    name = "petition_blocks"
    label = "petition_blocks"
    verbose_name = "Petition blocks"
    default_auto_field = "django.db.models.BigAutoField"
