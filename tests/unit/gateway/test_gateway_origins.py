"""The WebSocket Origin allowlist and the request details read through trusted proxies."""

import pytest

from rdpconsole.gateway.origins import InvalidOrigin
from rdpconsole.gateway.origins import OriginPolicy
from rdpconsole.gateway.origins import RequestView
from rdpconsole.gateway.origins import normalize_origin
from rdpconsole.gateway.origins import origin_of_url
from rdpconsole.gateway.origins import parse_networks


def scope(headers=(), client=("198.51.100.7", 50000), scheme="ws"):
    return {
        "type": "websocket",
        "scheme": scheme,
        "client": client,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Console.Example.org", "https://console.example.org"),
        ("https://console.example.org:443", "https://console.example.org"),
        ("http://console.example.org:80/", "http://console.example.org"),
        ("http://127.0.0.1:6083", "http://127.0.0.1:6083"),
        ("http://[::1]:6083", "http://[::1]:6083"),
        ("http://[0:0:0:0:0:0:0:1]:6083", "http://[::1]:6083"),
    ],
)
def test_normalize_origin(value, expected):
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    ["null", "ftp://example.org", "https://example.org/path", "https://user@example.org", "example.org",
     "https://example.org:99999"],
)
def test_normalize_origin_rejects(value):
    with pytest.raises(InvalidOrigin):
        normalize_origin(value)


def test_origin_of_url_keeps_port():
    assert origin_of_url("http://127.0.0.1:6083/console/?x=1") == "http://127.0.0.1:6083"


def test_parse_networks_rejects_names():
    with pytest.raises(ValueError):
        parse_networks(["proxy.example.org"])


def test_policy_allows_listed_origin():
    policy = OriginPolicy({"https://console.example.org"})

    assert policy.is_allowed(RequestView(scope([("origin", "https://console.example.org:443")])))


def test_policy_rejects_other_origin():
    policy = OriginPolicy({"https://console.example.org"})

    assert not policy.is_allowed(RequestView(scope([("origin", "https://evil.example.net")])))


def test_policy_allows_missing_origin():
    policy = OriginPolicy({"https://console.example.org"})

    assert policy.is_allowed(RequestView(scope()))


def test_policy_rejects_null_origin():
    policy = OriginPolicy({"https://console.example.org"})

    assert not policy.is_allowed(RequestView(scope([("origin", "null")])))


def test_same_origin_off_by_default():
    policy = OriginPolicy({"https://console.example.org"})
    view = RequestView(scope([("origin", "http://gw.example.org:6083"), ("host", "gw.example.org:6083")]))

    assert not policy.is_allowed(view)


def test_same_origin_from_host_header():
    policy = OriginPolicy({"https://console.example.org"}, allow_same_origin=True)
    view = RequestView(scope([("origin", "http://gw.example.org:6083"), ("host", "gw.example.org:6083")]))

    assert policy.is_allowed(view)


def test_forwarded_headers_from_trusted_proxy():
    proxies = parse_networks(["10.0.0.0/24"])
    headers = [("origin", "https://console.example.org"), ("host", "10.0.0.20:6083"),
               ("x-forwarded-proto", "https"), ("x-forwarded-host", "console.example.org")]
    view = RequestView(scope(headers, client=("10.0.0.5", 4000)), proxies)

    assert view.request_origin() == "https://console.example.org"


def test_forwarded_headers_ignored_from_other_peer():
    proxies = parse_networks(["10.0.0.0/24"])
    headers = [("host", "10.0.0.20:6083"), ("x-forwarded-proto", "https"),
               ("x-forwarded-host", "console.example.org")]
    view = RequestView(scope(headers, client=("198.51.100.7", 4000)), proxies)

    assert view.request_origin() == "http://10.0.0.20:6083"


def test_client_address_through_proxies():
    proxies = parse_networks(["10.0.0.0/24"])
    headers = [("x-forwarded-for", "203.0.113.9, 10.0.0.4")]
    view = RequestView(scope(headers, client=("10.0.0.5", 4000)), proxies)

    assert view.client_address == "203.0.113.9"


def test_client_address_ignores_untrusted_forwarded_for():
    headers = [("x-forwarded-for", "203.0.113.9")]
    view = RequestView(scope(headers, client=("198.51.100.7", 4000)), ())

    assert view.client_address == "198.51.100.7"
