"""The sign rate limit: per client (behind trusted proxies, IPv6 by /64), a burst and a sustained window."""

import json

import pytest
from django.core.checks import Error

from cms import checks, localcache, ratelimit, store
from cms.models import Signature

from .conftest import sign_url
from .test_deploy_settings import PRODUCTION, run_site

pytestmark = pytest.mark.django_db

PROXY = "127.0.0.1"
#: What each sign path answers a signature it accepts.
ACCEPTED = {"html": 302, "api": 202, "osdi": 202}


@pytest.fixture
def post(client):
    """Sign on one of the three paths that rate-limit, as ``remote_addr`` forwarding ``forwarded_for``."""
    numbers = iter(range(10**6))

    def _post(page, kind="html", remote_addr=PROXY, forwarded_for=None):
        email = f"signer{next(numbers)}@example.org"
        meta = {"REMOTE_ADDR": remote_addr}
        if forwarded_for is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
        if kind == "html":
            fields = {"first_name": "Ada", "email": email, "feed_display": "first"}
            return client.post(sign_url(page), fields, **meta)
        if kind == "api":
            body = {"first_name": "Ada", "email": email, "feed_display": "first"}
            return client.post(f"/api/petitions/{page.pk}/signatures/", json.dumps(body), "application/json", **meta)
        body = {"person": {"given_name": "Ada", "email_addresses": [{"address": email}]}}
        return client.post(
            f"/api/osdi/v1/petitions/{page.pk}/signatures/", json.dumps(body), "application/json", **meta
        )

    return _post


@pytest.fixture
def limits(settings):
    def _limits(**values):
        settings.PETITIONS = {**settings.PETITIONS, **values}

    return _limits


def refusal_text(response):
    if response["Content-Type"].startswith("application/json"):
        return response.json()["detail"]
    return response.content.decode()


# --- behind a proxy --------------------------------------------------------------------------------


def test_behind_a_trusted_proxy_one_noisy_client_does_not_refuse_everyone(petition, post, limits):
    limits(TRUSTED_PROXIES=1, RATE_LIMIT=20)

    noisy = [post(petition, forwarded_for="203.0.113.7").status_code for _ in range(21)]
    others = [post(petition, forwarded_for=f"198.51.100.{n}").status_code for n in range(1, 11)]

    assert noisy == [302] * 20 + [429]
    assert others == [302] * 10


def test_a_client_forging_x_forwarded_for_is_limited_while_others_behind_the_proxy_sign(petition, post, limits):
    limits(TRUSTED_PROXIES=1, RATE_LIMIT=3)

    # The forger sends a new left-most address each time; the proxy appends the one it saw.
    forged = [post(petition, forwarded_for=f"192.0.2.{n}, 203.0.113.7").status_code for n in range(5)]
    honest = post(petition, forwarded_for="198.51.100.1")

    assert forged == [302, 302, 302, 429, 429]
    assert honest.status_code == 302


def test_a_forwarded_header_from_an_untrusted_peer_changes_nothing(petition, post, limits):
    limits(TRUSTED_PROXIES=["10.0.0.0/8"], RATE_LIMIT=2)

    codes = [post(petition, remote_addr="203.0.113.7", forwarded_for=f"10.0.0.{n}").status_code for n in range(3)]

    assert codes == [302, 302, 429]


@pytest.mark.parametrize("kind", ["html", "api", "osdi"])
def test_every_sign_path_limits_the_forwarded_client_and_says_when_to_come_back(petition, post, limits, kind):
    limits(TRUSTED_PROXIES=["127.0.0.0/8"], RATE_LIMIT=2)

    answers = [post(petition, kind, forwarded_for="203.0.113.7") for _ in range(3)]
    other = post(petition, kind, forwarded_for="198.51.100.1")

    assert [answer.status_code for answer in answers] == [ACCEPTED[kind]] * 2 + [429]
    assert other.status_code == ACCEPTED[kind]
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert "Too many signatures have come from your connection" in refusal_text(answers[2])
    assert "try again in 1 minute" in refusal_text(answers[2])


@pytest.mark.parametrize("garbage", ["", "unknown", "999.1.1.1, ,", "\x7f", "[::1", "1.2.3.4:x, " * 2000])
def test_a_malformed_x_forwarded_for_is_no_server_error(petition, post, limits, garbage):
    limits(TRUSTED_PROXIES=2)

    assert post(petition, forwarded_for=garbage).status_code == 302
    assert post(petition, "api", forwarded_for=garbage).status_code == 202


# --- IPv6 ------------------------------------------------------------------------------------------


def test_thirty_addresses_in_one_ipv6_64_share_one_limit(petition, post):
    codes = [post(petition, remote_addr=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 31)]

    assert codes == [302] * 20 + [429] * 10
    assert Signature.objects.count() == 20


def test_each_ipv6_64_has_a_limit_of_its_own(petition, post, limits):
    limits(RATE_LIMIT=1)

    codes = [post(petition, remote_addr=f"2001:db8:1:{n:x}::1").status_code for n in range(1, 6)]

    assert codes == [302] * 5


def test_an_ipv4_mapped_address_shares_the_ipv4_addresss_limit(petition, post, limits):
    limits(RATE_LIMIT=1)

    assert post(petition, remote_addr="203.0.113.7").status_code == 302
    assert post(petition, remote_addr="::ffff:203.0.113.7").status_code == 429


# --- the burst and the sustained limit ---------------------------------------------------------------


def test_the_sustained_limit_refuses_once_the_hour_is_used_up(petition, post, limits):
    limits(RATE_LIMIT=100, RATE_LIMIT_WINDOW=60, RATE_LIMIT_SUSTAINED=3, RATE_LIMIT_SUSTAINED_WINDOW=3600)

    answers = [post(petition, remote_addr="203.0.113.7") for _ in range(4)]

    assert [answer.status_code for answer in answers] == [302, 302, 302, 429]
    assert 60 < int(answers[3]["Retry-After"]) <= 3600
    assert "try again in 60 minutes" in refusal_text(answers[3])


def test_either_limit_can_be_switched_off(petition, post, limits):
    limits(RATE_LIMIT=None, RATE_LIMIT_SUSTAINED=2)
    assert [post(petition, remote_addr="203.0.113.7").status_code for _ in range(3)] == [302, 302, 429]

    limits(RATE_LIMIT=2, RATE_LIMIT_SUSTAINED=None)
    assert [post(petition, remote_addr="203.0.113.8").status_code for _ in range(3)] == [302, 302, 429]


@pytest.mark.services
def test_retry_after_counts_down_to_the_end_of_the_window_that_refused(petition, post, limits):
    limits(RATE_LIMIT=1, RATE_LIMIT_WINDOW=60)
    assert post(petition, remote_addr="203.0.113.7").status_code == 302
    redis_store = store.get_store()
    assert isinstance(redis_store, store.RedisStore), "the services run must use the Redis store"
    # The window began 55 seconds ago: 5 are left (set on the key rather than waited for).
    redis_store.client.pexpire(redis_store.key(ratelimit.window_key(petition.pk, 60, "203.0.113.7")), 5000)

    refused = post(petition, remote_addr="203.0.113.7")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 5
    assert "try again in 5 seconds" in refusal_text(refused)


@pytest.mark.parametrize("kind", [pytest.param("redis", marks=pytest.mark.services), "embedded"])
def test_the_store_counts_each_window_and_says_how_long_it_has_left(settings, tmp_path, kind):
    if kind == "embedded":
        files = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
        settings.CACHES = {**settings.CACHES, "files": files}
        settings.PETITIONS = {**settings.PETITIONS, "CACHE_ALIAS": "files"}
    counter = store.get_store()
    assert type(counter) is {"redis": store.RedisStore, "embedded": store.CacheStore}[kind]
    windows = [("petitions:rate:test:a", 60), ("petitions:rate:test:b", 3600)]

    counted = counter.count_attempts(windows)
    again = counter.count_attempts(windows)

    assert [count for count, _ in counted] == [1, 1]
    assert [count for count, _ in again] == [2, 2]
    assert 0 < again[0][1] <= 60 and 60 < again[1][1] <= 3600


# --- the allow-list --------------------------------------------------------------------------------


def test_the_allow_list_lets_no_one_through_outside_debug(petition, post, limits, settings):
    settings.DEBUG = False
    limits(RATE_LIMIT=1, RATE_LIMIT_ALLOW=[PROXY])

    assert [post(petition).status_code for _ in range(2)] == [302, 429]


def test_an_allow_list_outside_debug_fails_the_system_checks(limits, settings):
    limits(RATE_LIMIT_ALLOW=["127.0.0.1"])

    settings.DEBUG = False
    errors = [m for m in checks.check_petitions_settings(None) if m.id == "petitions.E020"]
    assert len(errors) == 1 and isinstance(errors[0], Error)
    assert "TRUSTED_PROXIES" in errors[0].hint

    settings.DEBUG = True
    assert "petitions.E020" not in [m.id for m in checks.check_petitions_settings(None)]


@pytest.mark.parametrize(
    "values",
    [{"RATE_LIMIT": 0}, {"RATE_LIMIT": "20"}, {"RATE_LIMIT_WINDOW": None}, {"RATE_LIMIT_SUSTAINED_WINDOW": -5}],
)
def test_a_limit_that_is_not_a_positive_whole_number_fails_the_system_checks(limits, values):
    limits(**values)

    assert "petitions.E022" in [m.id for m in checks.check_petitions_settings(None)]


def test_the_default_limits_pass_the_system_checks():
    ids = [m.id for m in checks.check_petitions_settings(None)]

    assert not {"petitions.E020", "petitions.E021", "petitions.E022"} & set(ids)


# --- the demo site's environment ---------------------------------------------------------------------


def test_a_production_start_with_the_allow_list_is_refused_and_trusted_proxies_pass(tmp_path):
    check = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]

    refused = run_site(tmp_path, check, **PRODUCTION, PETITIONS_RATE_LIMIT_ALLOW="127.0.0.1")
    behind_nginx = run_site(tmp_path, check, **PRODUCTION, PETITIONS_TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")

    assert refused.returncode != 0 and "petitions.E020" in refused.stderr, refused.stdout + refused.stderr
    assert behind_nginx.returncode == 0, behind_nginx.stdout + behind_nginx.stderr


@pytest.mark.parametrize(("value", "expected"), [("2", "2"), (" 10.0.0.0/8, ::1 ", "['10.0.0.0/8', '::1']")])
def test_the_demo_site_reads_trusted_proxies_from_the_environment(tmp_path, value, expected):
    code = "import petitions_site.settings as s; print(s.PETITIONS['TRUSTED_PROXIES'])"

    result = run_site(tmp_path, ["-c", code], DEBUG="1", PETITIONS_TRUSTED_PROXIES=value)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# --- while the store is down ------------------------------------------------------------------------


def test_the_process_counts_the_same_windows_while_the_store_is_down(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(localcache.time, "monotonic", lambda: now[0])
    windows = localcache.LocalWindows()

    first = windows.count_attempts([("burst", 60), ("sustained", 3600)])
    now[0] += 59
    second = windows.count_attempts([("burst", 60), ("sustained", 3600)])
    now[0] += 2  # the burst window has reset, the sustained one has not
    third = windows.count_attempts([("burst", 60), ("sustained", 3600)])

    assert first == [(1, 60), (1, 3600)]
    assert second == [(2, 1), (2, 3541)]
    assert third == [(1, 60), (3, 3539)]
    assert windows.attempts("sustained") == 3 and windows.attempts("unknown") == 0


def test_the_process_keeps_a_bounded_number_of_windows():
    windows = localcache.LocalWindows(max_items=100)
    for n in range(1000):
        windows.count_attempts([(f"client-{n}", 60)])

    assert len(windows.windows) <= 100
