"""The Redis store's one-call scripts do what the command pipelines they replace did.

The rate limit's windows (INCR, EXPIRE NX, PTTL each) and the outbox push (RPUSH, SET NX PX)
each cost a sign one EVALSHA; the reference here is the pipeline, run on keys of its own.
"""

import pytest

from cms import store

pytestmark = pytest.mark.services


@pytest.fixture
def redis_store():
    redis_store = store.get_store()
    assert isinstance(redis_store, store.RedisStore), "the services run must use the Redis store"
    return redis_store


def pipeline_count_attempts(redis_store, windows):
    """The rate limit's store call as it was: three commands a window in one pipeline."""
    pipe = redis_store.client.pipeline(transaction=False)
    for name, window in windows:
        key = redis_store.key(name)
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.pttl(key)
    replies = pipe.execute()
    return [
        (count, window if ttl_ms < 0 else ttl_ms / 1000)
        for (_, window), count, ttl_ms in zip(windows, replies[0::3], replies[2::3], strict=True)
    ]


def test_counting_attempts_by_script_matches_the_pipeline(redis_store):
    scripted = [("petitions:rate:script:burst", 60), ("petitions:rate:script:sustained", 3600)]
    piped = [("petitions:rate:pipe:burst", 60), ("petitions:rate:pipe:sustained", 3600)]
    # A key that somehow lost its expiry gets one; a running window keeps its own.
    for windows in (scripted, piped):
        redis_store.client.set(redis_store.key(windows[0][0]), 4)
        redis_store.client.set(redis_store.key(windows[1][0]), 9, px=5000)

    for _ in range(3):
        by_script, by_pipeline = redis_store.count_attempts(scripted), pipeline_count_attempts(redis_store, piped)

        assert [count for count, _ in by_script] == [count for count, _ in by_pipeline]
        for (_, left), (_, expected) in zip(by_script, by_pipeline, strict=True):
            assert abs(left - expected) < 0.5
    assert [count for count, _ in by_script] == [7, 12]
    assert 59 < by_script[0][1] <= 60 and by_script[1][1] <= 5


def test_counting_attempts_survives_a_redis_that_forgot_its_scripts(private_redis_cache):
    # A Redis of this test's own: flushing the shared one's scripts would touch other runs.
    redis_store = store.get_store()
    assert redis_store.client.connection_pool.connection_kwargs["port"] == private_redis_cache.port
    windows = [("petitions:rate:flushed:burst", 60)]
    assert redis_store.count_attempts(windows)[0][0] == 1

    redis_store.client.script_flush()  # a restarted Redis: the EVALSHA misses, the script is loaded again

    assert redis_store.count_attempts(windows)[0][0] == 2
    assert redis_store.push_outbox(1) in (True, False)


def test_every_push_queues_its_id_and_one_push_a_nudge_window_wakes_the_drain(redis_store, settings):
    settings.PETITIONS = {**settings.PETITIONS, "OUTBOX_NUDGE_MS": 60_000}
    redis_store.client.delete(redis_store.key(store.OUTBOX_KEY), redis_store.key(store.OUTBOX_NUDGED_KEY))

    wakes = [redis_store.push_outbox(pk) for pk in (11, 12, 13)]
    nudge_ttl = redis_store.client.pttl(redis_store.key(store.OUTBOX_NUDGED_KEY))

    assert wakes == [True, False, False]
    assert 59_000 < nudge_ttl <= 60_000
    assert redis_store.pop_outbox(10) == [11, 12, 13]
    redis_store.start_draining()  # the drain task has started: the next signer wakes a new one
    assert redis_store.push_outbox(14) is True
    assert redis_store.pop_outbox(10) == [14]
