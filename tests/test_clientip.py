"""The client's address: from the hops the site trusts, never from what the client says of itself."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from cms import checks, clientip

PROXY = "10.0.0.1"


def request_from(remote_addr, forwarded_for=None):
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/petitions/1/sign/", **meta)


@pytest.fixture
def trust(settings):
    def _trust(value):
        settings.PETITIONS = {**settings.PETITIONS, "TRUSTED_PROXIES": value}

    return _trust


def test_with_no_proxy_trusted_the_client_is_the_peer_and_x_forwarded_for_is_ignored():
    request = request_from("203.0.113.7", "198.51.100.1")

    assert clientip.client_address(request) == "203.0.113.7"


def test_one_trusted_hop_makes_the_right_most_forwarded_entry_the_client(trust):
    trust(1)

    assert clientip.client_address(request_from(PROXY, "203.0.113.7")) == "203.0.113.7"


def test_forged_left_most_entries_are_never_the_client(trust):
    # nginx's $proxy_add_x_forwarded_for appends the peer to whatever the client sent.
    forged = "198.51.100.1, 198.51.100.2, 203.0.113.7"
    trust(1)
    assert clientip.client_address(request_from(PROXY, forged)) == "203.0.113.7"
    trust(["10.0.0.0/8"])
    assert clientip.client_address(request_from(PROXY, forged)) == "203.0.113.7"


def test_two_trusted_hops_take_the_second_entry_from_the_right(trust):
    trust(2)  # a load balancer, then nginx

    assert clientip.client_address(request_from(PROXY, "198.51.100.1, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"


def test_fewer_forwarded_entries_than_trusted_hops_take_the_left_most(trust):
    trust(2)  # this request came in through the inner proxy only

    assert clientip.client_address(request_from(PROXY, "203.0.113.7")) == "203.0.113.7"
    assert clientip.client_address(request_from("203.0.113.8")) == "203.0.113.8"


def test_trusted_networks_skip_every_trusted_hop_from_the_right(trust):
    trust(["10.0.0.0/8", "192.0.2.10"])

    request = request_from(PROXY, "198.51.100.1, 203.0.113.7, 192.0.2.10, 10.1.2.3")
    assert clientip.client_address(request) == "203.0.113.7"


def test_a_peer_outside_the_trusted_networks_is_the_client_whatever_it_forwards(trust):
    trust(["10.0.0.0/8"])

    assert clientip.client_address(request_from("203.0.113.7", "10.0.0.5, 198.51.100.1")) == "203.0.113.7"


def test_when_every_hop_is_trusted_the_left_most_is_the_client(trust):
    trust(["10.0.0.0/8"])

    assert clientip.client_address(request_from(PROXY, "10.9.9.9, 10.0.0.2")) == "10.9.9.9"


@pytest.mark.parametrize(
    "forwarded",
    [
        "",
        ",",
        " , ,",
        "unknown",
        "not-an-address",
        "999.1.1.1",
        "1.2.3",
        "2001:db8::zz",
        "[2001:db8::1",
        "1.2.3.4:notaport",
        "\x00\x01",
        "é" * 300,
        "1.2.3.4," * 5000,
    ],
)
@pytest.mark.parametrize("trusted", [1, 3, ["10.0.0.0/8"]])
def test_a_malformed_forwarded_entry_is_never_the_client_and_never_an_error(trust, forwarded, trusted):
    trust(trusted)

    address = clientip.client_address(request_from(PROXY, forwarded))

    # Either the peer itself or an address that parses (the valid entries of a long list).
    assert address in (PROXY, "1.2.3.4")
    assert clientip.client_key(request_from(PROXY, forwarded)) in (PROXY, "1.2.3.4")


def test_a_malformed_entry_right_of_the_client_leaves_the_nearest_trusted_hop(trust):
    trust(["10.0.0.0/8"])

    assert clientip.client_address(request_from(PROXY, "203.0.113.7, garbage, 10.0.0.2")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("203.0.113.7:51234", "203.0.113.7"),  # Azure's gateways add the port
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("  203.0.113.7  ", "203.0.113.7"),
    ],
)
def test_ports_brackets_and_spaces_in_forwarded_entries_are_read(trust, entry, address):
    trust(1)

    assert clientip.client_address(request_from(PROXY, entry)) == address


def test_an_ipv6_client_is_keyed_by_its_64():
    one = clientip.client_key(request_from("2001:db8:1:2:aaaa::1"))
    same_64 = clientip.client_key(request_from("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    next_64 = clientip.client_key(request_from("2001:db8:1:3::1"))

    assert one == same_64 == "2001:db8:1:2::/64"
    assert next_64 != one


def test_an_ipv4_mapped_ipv6_client_is_keyed_and_trusted_as_ipv4(trust):
    assert clientip.client_key(request_from("::ffff:203.0.113.7")) == "203.0.113.7"
    trust(["10.0.0.0/8"])
    assert clientip.client_address(request_from("::ffff:10.0.0.1", "::ffff:203.0.113.7")) == "203.0.113.7"


def test_a_peer_that_is_no_address_gets_one_shared_key():
    # e.g. a unix socket with no proxy trusted: every such request shares one limit, as before.
    assert clientip.client_key(request_from("")) == clientip.client_key(request_from("socket")) == "unknown"


@pytest.mark.parametrize("value", [-1, "1", ["10.0.0.0/33"], ["not a network"], [1], True, 2.5])
def test_a_trusted_proxies_setting_that_is_neither_a_count_nor_networks_is_a_clear_error(trust, value):
    trust(value)

    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        clientip.trusted_proxies()
    assert "petitions.E021" in [message.id for message in checks.check_petitions_settings(None)]


@pytest.mark.parametrize("value", [0, 2, (), ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]])
def test_a_count_or_a_list_of_networks_passes_the_checks(trust, value):
    trust(value)

    assert "petitions.E021" not in [message.id for message in checks.check_petitions_settings(None)]


def test_a_request_works_out_its_client_once_and_each_request_its_own(trust, monkeypatch):
    trust(1)
    parsed = []
    parse = clientip.parse_address
    monkeypatch.setattr(clientip, "parse_address", lambda text: parsed.append(text) or parse(text))
    first, second = request_from(PROXY, "203.0.113.7"), request_from(PROXY, "198.51.100.9")

    assert [clientip.client_address(first), clientip.client_key(first)] == ["203.0.113.7", "203.0.113.7"]
    assert len(parsed) == 1
    assert clientip.client_address(second) == "198.51.100.9"
