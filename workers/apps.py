from django.apps import AppConfig


class PetitionsWorkersConfig(AppConfig):
    name = "workers"
    label = "petitions_workers"
    verbose_name = "Petition workers"
    default_auto_field = "django.db.models.BigAutoField"
