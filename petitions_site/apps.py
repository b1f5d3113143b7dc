from django.apps import AppConfig


class PetitionsSiteConfig(AppConfig):
    name = "petitions_site"
    label = "petitions_site"
    verbose_name = "Demo site"
    default_auto_field = "django.db.models.BigAutoField"
