from django.apps import AppConfig


class PetitionsCmsConfig(AppConfig):
    # A label a host project is unlikely to have already (not a bare "cms").
    name = "cms"
    label = "petitions_cms"
    verbose_name = "Petitions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete
        from wagtail.signals import page_published, page_unpublished

        from . import checks  # noqa: F401  (registers the system checks)
        from .views import forget_petition

        for signal in (page_published, page_unpublished, post_delete):
            signal.connect(forget_petition, dispatch_uid=f"petitions-forget-{id(signal)}")
