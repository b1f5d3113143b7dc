import pytest
from django.conf import settings
from django.urls import reverse
from wagtail.models import Page, Site

from cms.store import get_cache

from .factories import CampaignIndexPageFactory, OfficialFactory, PetitionPageFactory

requires_services = pytest.mark.skipif(
    not getattr(settings, "SERVICES_AVAILABLE", False),
    reason="PostgreSQL and Redis are not reachable (set CI=1 to make this an error)",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("services"):
            item.add_marker(requires_services)


@pytest.fixture(autouse=True)
def _clear_petitions_cache():
    get_cache().clear()
    yield


@pytest.fixture(autouse=True)
def _anymail_test_backend(settings):
    # Django's test setup swaps in locmem; tests send through anymail like production.
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def index_page(db):
    root = Page.get_first_root_node()
    index = CampaignIndexPageFactory(parent=root, slug="campaigns")
    Site.objects.update_or_create(
        is_default_site=True, defaults={"hostname": "testserver", "port": 80, "root_page": index}
    )
    return index


@pytest.fixture
def official(db):
    return OfficialFactory()


@pytest.fixture
def petition(index_page, official):
    from .factories import petition_body

    return PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))


def sign_url(page):
    return reverse("petitions:sign", args=[page.pk])


def confirm_url(page):
    return reverse("petitions:confirm", args=[page.pk])


@pytest.fixture
def sign(client, django_capture_on_commit_callbacks):
    """POST the sign form as a browser would, running on-commit callbacks (the email task)."""

    def _sign(page, **data):
        remote_addr = data.pop("REMOTE_ADDR", "10.0.0.1")
        query = data.pop("query", "")
        fields = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "feed_display": "first"}
        fields.update(data)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(sign_url(page) + query, fields, REMOTE_ADDR=remote_addr)

    return _sign
