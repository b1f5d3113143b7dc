"""The counter store is chosen by configuration and keeps to its cache's key prefix."""

import pytest
from django.utils import timezone

from cms import checks, store

REDIS_BACKENDS = ["django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache"]


def redis_location(settings):
    default = settings.CACHES["default"]
    # Only services tests ask (skipped without services, an error under CI).
    assert default["BACKEND"].endswith("RedisCache"), "REDIS_URL is set but the cache is not Redis"
    return default["LOCATION"]


@pytest.mark.services
@pytest.mark.parametrize("backend", REDIS_BACKENDS)
def test_a_redis_cache_gets_the_redis_store_with_the_caches_key_prefix(settings, backend):
    location, prefix = redis_location(settings), settings.CACHES["default"].get("KEY_PREFIX", "")
    settings.CACHES = {
        **settings.CACHES,
        "one": {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": f"{prefix}-one"},
        "two": {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": f"{prefix}-two"},
    }
    settings.PETITIONS = {**settings.PETITIONS, "CACHE_ALIAS": "one"}
    one = store.get_store()
    settings.PETITIONS = {**settings.PETITIONS, "CACHE_ALIAS": "two"}
    two = store.get_store()
    assert isinstance(one, store.RedisStore) and isinstance(two, store.RedisStore)

    one.apply_reconcile(1, 40, timezone.now())
    two.apply_reconcile(1, 7, timezone.now())
    assert one.get_values([1]) == {1: (40, None)}
    assert two.get_values([1]) == {1: (7, None)}
    assert one.client.exists(f"{prefix}-one:1:petitions:count:1")

    one.clear()  # a site (or test run) flushing its own keys leaves the other's alone
    assert one.get_values([1]) == {1: (None, None)}
    assert two.get_values([1]) == {1: (7, None)}
    two.clear()


def test_any_other_cache_gets_the_embedded_store(settings, tmp_path):
    settings.CACHES = {
        **settings.CACHES,
        "files": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)},
    }
    settings.PETITIONS = {**settings.PETITIONS, "CACHE_ALIAS": "files"}
    assert type(store.get_store()) is store.CacheStore


class RecordingStore(store.CacheStore):
    """A host's own store: named by its dotted path."""


@pytest.mark.services
def test_the_store_named_in_the_settings_wins_over_detection(settings):
    redis_location(settings)
    settings.PETITIONS = {**settings.PETITIONS, "STORE": "tests.test_store.RecordingStore"}
    assert type(store.get_store()) is RecordingStore


def test_a_redis_store_for_a_cache_that_is_not_redis_is_a_clear_error(settings, tmp_path):
    settings.CACHES = {
        **settings.CACHES,
        "files": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)},
    }
    settings.PETITIONS = {**settings.PETITIONS, "CACHE_ALIAS": "files", "STORE": "cms.store.RedisStore"}
    with pytest.raises(TypeError, match="not a Redis cache"):
        store.get_store()


def test_a_store_setting_that_cannot_be_imported_fails_the_system_checks(settings):
    settings.PETITIONS = {**settings.PETITIONS, "STORE": "nowhere.Store"}
    assert "petitions.E003" in [message.id for message in checks.check_petitions_settings(None)]


def test_a_signature_model_that_is_not_a_signature_fails_the_system_checks(settings):
    settings.PETITIONS = {**settings.PETITIONS, "SIGNATURE_MODEL": "petitions_cms.Official"}
    assert "petitions.E002" in [message.id for message in checks.check_petitions_settings(None)]
