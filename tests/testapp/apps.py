from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """A host's own app, as a site that stores more per signature would have."""

    name = "tests.testapp"
    label = "petitions_testapp"
    default_auto_field = "django.db.models.BigAutoField"
