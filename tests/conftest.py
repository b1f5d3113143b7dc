import pytest
import redis
from django.conf import settings
from django.urls import reverse
from wagtail.models import Page, Site

from cms import store

from .factories import CampaignIndexPageFactory, OfficialFactory, PetitionPageFactory

requires_services = pytest.mark.skipif(
    not getattr(settings, "SERVICES_AVAILABLE", False),
    reason="PostgreSQL and Redis are not reachable (set CI=1 to make this an error)",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("services"):
            item.add_marker(requires_services)


def clear_run_cache():
    """Forget every cache value this run wrote, and nothing anyone else wrote.

    On Redis that is every key under this run's ``KEY_PREFIX`` (the plugin's
    store, cached pages, Wagtail's own entries); ``cache.clear()`` would be a
    FLUSHDB of a database a demo, a benchmark or another run may be using.
    The file cache of the no-services fallback lives in this run's own
    directory, so clearing it is already scoped.
    """
    cache = store.get_cache()
    if not isinstance(cache, store.REDIS_CACHE_CLASSES):
        cache.clear()
        return
    prefix = f"{settings.TEST_RUN_PREFIX}:"
    # Never a bare ":*", which would match every unprefixed site's keys.
    assert settings.TEST_RUN_PREFIX and cache.make_key("petitions:count:1").startswith(prefix), cache.make_key("x")
    delete_redis_keys(store.redis_client_for(cache), prefix)


def delete_redis_keys(client, prefix):
    """Delete every key starting with ``prefix`` (SCAN, not KEYS: Redis keeps serving others)."""
    pattern = "".join("\\" + char if char in "*?[]\\" else char for char in prefix) + "*"
    keys = list(client.scan_iter(pattern, count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


@pytest.fixture(autouse=True)
def _clear_petitions_cache():
    from cms import landing_copies, middleware, signing, translations

    clear_run_cache()
    middleware.forget_copies()  # the process's own stale page copies, too
    signing.STORED_WORDINGS.clear()  # a wording memoised in a test whose rows were rolled back
    landing_copies.forget()
    translations.forget()  # canonical ids by page id: ids are reused once a test's rows roll back
    yield


@pytest.fixture(scope="session", autouse=True)
def _leave_no_keys_behind():
    """At the end of the run, delete its cache keys and its broker's (queues, bindings)."""
    yield
    clear_run_cache()
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
    if prefix:
        delete_redis_keys(redis.Redis.from_url(settings.CELERY_BROKER_URL), prefix)


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


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a call and then its on-commit callbacks (queued tasks run eagerly)."""

    def _commit(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return _commit


@pytest.fixture
def reconcile(commit):
    """cms.reconcile.reconcile_counts, with its after-commit publishing (live count, feed) run."""
    from cms import reconcile as reconciling

    def _reconcile(**kwargs):
        return commit(reconciling.reconcile_counts, **kwargs)

    return _reconcile


@pytest.fixture
def campaign_a(index_page):
    """The site's campaign (the index page), for tests of what a lead of one campaign may see."""
    return index_page


@pytest.fixture
def campaign_b(index_page):
    """Another campaign, beside the first under the root."""
    return CampaignIndexPageFactory(parent=Page.get_first_root_node(), slug="other-campaign", title="Other campaign")


@pytest.fixture
def private_redis():
    """A Redis server of this test's own (``tests.redis_server``), to kill, restart or flush."""
    from .redis_server import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_esp():
    """A stand-in ESP of this test's own (``tests.fake_esp``) on a free port: fails, hangs or accepts."""
    from .fake_esp import FakeESP

    esp = FakeESP().start()
    try:
        yield esp
    finally:
        esp.stop()


@pytest.fixture
def private_redis_cache(private_redis, settings):
    """The plugin's cache (and Wagtail's) on this test's own Redis, running: the test may kill it.

    Also forgets what the process kept while Redis was away (stale page copies, rate-limit
    windows), before and after.
    """
    from cms import middleware, ratelimit

    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "cms.cache.ResilientRedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": settings.TEST_RUN_PREFIX,
        },
    }
    middleware.forget_copies()
    ratelimit.LOCAL_WINDOWS.clear()
    yield private_redis
    middleware.forget_copies()
    ratelimit.LOCAL_WINDOWS.clear()
