"""[gateway] options read as a whole: parsing and the checks between options."""

import pytest
from oslo_config import cfg

from rdpconsole.conf import api
from rdpconsole.conf import consoleauth
from rdpconsole.conf import database
from rdpconsole.conf import default
from rdpconsole.conf import gateway
from rdpconsole.conf import rdp
from rdpconsole.conf.loading import ConfigurationError
from rdpconsole.gateway.settings import GatewaySettings
from rdpconsole.gateway.settings import normalize_host
from rdpconsole.gateway.settings import parse_fingerprint
from rdpconsole.gateway.settings import parse_pin

FINGERPRINT = "ab" * 32


@pytest.fixture
def conf():
    options = cfg.ConfigOpts()
    for module in (default, database, api, rdp, consoleauth, gateway):
        module.register_opts(options)
    options([], project="rdpconsole", default_config_files=[], default_config_dirs=[])
    overridden = []
    set_override = options.set_override

    def record_override(name, value, group=None):
        overridden.append((name, group))
        set_override(name, value, group=group)

    options.set_override = record_override
    yield options
    # Registered option groups share their option state between ConfigOpts objects.
    for name, group in overridden:
        options.clear_override(name, group=group)


def set_gateway(conf, **values):
    for name, value in values.items():
        conf.set_override(name, value, group="gateway")


def test_default_origin_from_base_url(conf):
    conf.set_override("html5_proxy_base_url", "https://console.example.org/rdp/", group="rdp")

    settings = GatewaySettings.from_conf(conf)

    assert settings.allowed_origins == frozenset({"https://console.example.org"})


def test_listed_origins_replace_default(conf):
    set_gateway(conf, allowed_origins=["https://a.example.org", "http://b.example.org:8080"])

    settings = GatewaySettings.from_conf(conf)

    assert settings.allowed_origins == frozenset({"https://a.example.org", "http://b.example.org:8080"})


def test_invalid_origin_rejected(conf):
    set_gateway(conf, allowed_origins=["console.example.org"])

    with pytest.raises(ConfigurationError, match="allowed_origins"):
        GatewaySettings.from_conf(conf)


def test_invalid_trusted_proxy_rejected(conf):
    set_gateway(conf, trusted_proxies=["proxy.example.org"])

    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        GatewaySettings.from_conf(conf)


@pytest.mark.parametrize("value", ["'self'; script-src *", "https://a.example.org\r\nX-Evil: 1", ""])
def test_frame_ancestors_rejects_injection(conf, value):
    set_gateway(conf, frame_ancestors=value)

    with pytest.raises(ConfigurationError, match="frame_ancestors"):
        GatewaySettings.from_conf(conf)


def test_frame_ancestors_default_star(conf):
    assert GatewaySettings.from_conf(conf).frame_ancestors == "*"


def test_pin_mode_needs_fingerprints(conf):
    set_gateway(conf, rdp_verify="pin")

    with pytest.raises(ConfigurationError, match="rdp_pinned_fingerprints"):
        GatewaySettings.from_conf(conf)


def test_pins_grouped_by_target(conf):
    other = "cd" * 32
    set_gateway(conf, rdp_verify="pin", rdp_pinned_fingerprints=[
        f"10.0.0.5:3389={FINGERPRINT}", f"10.0.0.5:3389={other}", f"[2001:db8::5]:2179={FINGERPRINT}",
    ])

    pins = GatewaySettings.from_conf(conf).rdp_pinned_fingerprints

    assert pins[("10.0.0.5", 3389)] == frozenset({bytes.fromhex(FINGERPRINT), bytes.fromhex(other)})
    assert pins[("2001:db8::5", 2179)] == frozenset({bytes.fromhex(FINGERPRINT)})


def test_ca_mode_needs_existing_file(conf, tmp_path):
    set_gateway(conf, rdp_verify="ca", rdp_ca_file=str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigurationError, match="rdp_ca_file"):
        GatewaySettings.from_conf(conf)


def test_compute_api_needs_credentials(conf):
    set_gateway(conf, token_backend="compute_api")

    with pytest.raises(ConfigurationError, match="credentials"):
        GatewaySettings.from_conf(conf)


def test_admin_token_needs_endpoint(conf):
    set_gateway(conf, token_backend="compute_api", admin_token="admin:admin")

    with pytest.raises(ConfigurationError, match="compute_api_endpoint"):
        GatewaySettings.from_conf(conf)


def test_admin_token_with_endpoint(conf):
    set_gateway(conf, token_backend="compute_api", admin_token="admin:admin",
                compute_api_endpoint="http://127.0.0.1:8774/v2.1")

    assert GatewaySettings.from_conf(conf).token_backend == "compute_api"


def test_web_client_path_must_exist(conf, tmp_path):
    set_gateway(conf, web_client_path=str(tmp_path / "missing"))

    with pytest.raises(ConfigurationError, match="web_client_path"):
        GatewaySettings.from_conf(conf)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (f"rdp.example.org:3389={FINGERPRINT}", (("rdp.example.org", 3389), bytes.fromhex(FINGERPRINT))),
        ("RDP.Example.org:3389=" + ":".join(["AB"] * 32), (("rdp.example.org", 3389), bytes.fromhex(FINGERPRINT))),
        (f"[::1]:2179={FINGERPRINT}", (("::1", 2179), bytes.fromhex(FINGERPRINT))),
    ],
)
def test_parse_pin(entry, expected):
    assert parse_pin(entry) == expected


@pytest.mark.parametrize(
    "entry",
    [f"rdp.example.org={FINGERPRINT}", f"::1:2179={FINGERPRINT}", "rdp.example.org:3389=abcd",
     "rdp.example.org:3389", f"rdp.example.org:0={FINGERPRINT}"],
)
def test_parse_pin_rejects(entry):
    with pytest.raises(ValueError):
        parse_pin(entry)


def test_parse_fingerprint_length():
    with pytest.raises(ValueError):
        parse_fingerprint("ab" * 20)


def test_normalize_host_ipv6_brackets():
    assert normalize_host("[2001:DB8:0::5]") == "2001:db8::5"
