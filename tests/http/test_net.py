"""Client addresses: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from fastapi.testclient import TestClient

from shipkey.http.net import client_ip, limit_key
from tests.factories import create_purchase, product_with_file

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),  # IPv4: each address on its own
        ("203.0.113.10", "203.0.113.10"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # IPv6: the customer's /64
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is someone else
        ("::1", "::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # IPv4-mapped IPv6 is the IPv4 address
        ("::ffff:cb00:7109", "203.0.113.9"),
        ("fe80::1%eth0", "fe80::/64"),  # a zone does not make another client
        (None, "unknown"),
        ("", "unknown"),
        ("testclient", "testclient"),  # not an address: counted as it is
    ],
)
def test_the_key_an_address_is_counted_under(address: str | None, key: str) -> None:
    assert limit_key(address) == key


def test_untrusted_peer_is_the_client() -> None:
    assert client_ip("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    assert client_ip("203.0.113.9", "1.2.3.4", LOOPBACK) == "203.0.113.9"


def test_trusted_proxy_chain_is_walked_from_the_right() -> None:
    assert client_ip("127.0.0.1", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", PROXIES) == "198.51.100.7"
    assert client_ip("127.0.0.1", "10.0.0.1, 10.0.0.2", PROXIES) == "10.0.0.1"


def test_garbage_in_the_header_is_ignored() -> None:
    assert client_ip("127.0.0.1", "not-an-ip", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", "198.51.100.7, junk", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", "[2001:db8::1]:443", PROXIES) == "2001:db8::1"
    assert client_ip("127.0.0.1", "198.51.100.7:5555", PROXIES) == "198.51.100.7"
    assert client_ip("127.0.0.1", "," * 100_000, PROXIES) == "127.0.0.1"
    assert client_ip(None, "1.2.3.4", PROXIES) is None


def test_forwarded_for_is_ignored_without_trusted_proxies(
    admin: TestClient, live_server: str
) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"])
    token = purchase["downloadLinks"][0]["token"]
    httpx.get(f"{live_server}/api/download/{token}", headers={"X-Forwarded-For": "6.6.6.6"})
    record = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert record["downloads"][0]["ipAddress"] == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy_is_recorded(
    admin: TestClient, live_server: str
) -> None:
    admin.app.state.settings.trusted_proxies = "127.0.0.1/32"  # type: ignore[attr-defined]
    admin.app.state.settings.__dict__.pop("trusted_networks", None)  # type: ignore[attr-defined]
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"])
    token = purchase["downloadLinks"][0]["token"]
    httpx.get(f"{live_server}/api/download/{token}", headers={"X-Forwarded-For": "198.51.100.7"})
    record = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert record["downloads"][0]["ipAddress"] == "198.51.100.7"
