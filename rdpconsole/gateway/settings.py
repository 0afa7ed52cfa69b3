"""The gateway's configuration, read from ``[gateway]`` once and checked as a whole.

oslo.config checks each option on its own. This module checks the values
that depend on each other (``rdp_verify = pin`` needs fingerprints, for
example) and parses lists into the objects the gateway uses.
"""

import dataclasses
import ipaddress
import os
import re

from rdpconsole.conf.loading import ConfigurationError
from rdpconsole.gateway import origins

# A SHA-256 digest is 32 bytes.
SHA256_DIGEST_SIZE = 32
# Characters allowed in the frame-ancestors value: anything that cannot end
# the directive (;), the header (CR, LF) or the header value's encoding.
_FRAME_ANCESTORS = re.compile(r"^[\x21-\x3a\x3c-\x7e ]+$")


@dataclasses.dataclass(frozen=True)
class GatewaySettings:
    """Every ``[gateway]`` value the gateway uses, parsed and cross-checked."""

    allowed_origins: frozenset
    allow_same_origin: bool
    trusted_proxies: tuple
    frame_ancestors: str
    web_client_path: str | None
    token_backend: str
    max_sessions_per_token: int
    request_timeout: float
    connect_timeout: float
    x224_timeout: float
    tls_timeout: float
    idle_timeout: float
    max_session_duration: float
    rdp_verify: str
    rdp_ca_file: str | None
    rdp_check_hostname: bool
    # (host, port) -> frozenset of SHA-256 digests (bytes)
    rdp_pinned_fingerprints: dict

    @classmethod
    def from_conf(cls, conf):
        """Build the settings from ``conf``; raise ConfigurationError naming the option on a bad value."""
        gateway = conf.gateway
        return cls(
            allowed_origins=_allowed_origins(gateway.allowed_origins, conf.rdp.html5_proxy_base_url),
            allow_same_origin=gateway.allow_same_origin,
            trusted_proxies=_trusted_proxies(gateway.trusted_proxies),
            frame_ancestors=_frame_ancestors(gateway.frame_ancestors),
            web_client_path=_web_client_path(gateway.web_client_path),
            token_backend=_token_backend(conf),
            max_sessions_per_token=gateway.max_sessions_per_token,
            request_timeout=gateway.request_timeout,
            connect_timeout=gateway.connect_timeout,
            x224_timeout=gateway.x224_timeout,
            tls_timeout=gateway.tls_timeout,
            idle_timeout=gateway.idle_timeout,
            max_session_duration=gateway.max_session_duration,
            rdp_verify=gateway.rdp_verify,
            rdp_ca_file=_rdp_ca_file(gateway.rdp_verify, gateway.rdp_ca_file),
            rdp_check_hostname=gateway.rdp_check_hostname,
            rdp_pinned_fingerprints=_pinned_fingerprints(
                gateway.rdp_verify, gateway.rdp_pinned_fingerprints
            ),
        )


def _allowed_origins(entries, base_url):
    if not entries:
        try:
            return frozenset([origins.origin_of_url(base_url)])
        except origins.InvalidOrigin as error:
            raise ConfigurationError(
                f"Invalid value {base_url!r} for option [rdp] html5_proxy_base_url: {error}."
            ) from None

    allowed = set()
    for entry in entries:
        try:
            allowed.add(origins.normalize_origin(entry))
        except origins.InvalidOrigin as error:
            raise ConfigurationError(
                f"Invalid entry in option [gateway] allowed_origins: {error}. "
                "Write each origin as scheme://host[:port], for example https://console.example.org."
            ) from None
    return frozenset(allowed)


def _trusted_proxies(entries):
    try:
        return origins.parse_networks(entries)
    except ValueError as error:
        raise ConfigurationError(f"Invalid entry in option [gateway] trusted_proxies: {error}.") from None


def _frame_ancestors(value):
    value = value.strip()
    if not value or not _FRAME_ANCESTORS.match(value):
        raise ConfigurationError(
            f"Invalid value {value!r} for option [gateway] frame_ancestors: expected a "
            "Content-Security-Policy source list such as '*', 'self' or "
            "https://dashboard.example.org, without ';' or control characters."
        )
    return value


def _web_client_path(value):
    if not value:
        return None
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isdir(path):
        raise ConfigurationError(
            f"Invalid value {value!r} for option [gateway] web_client_path: not a folder. "
            "Point it at the folder where 'npm ci' created node_modules."
        )
    return path


def _token_backend(conf):
    gateway = conf.gateway
    if gateway.token_backend != "compute_api":
        return gateway.token_backend
    if gateway.admin_token and not gateway.compute_api_endpoint:
        raise ConfigurationError(
            "Option [gateway] admin_token needs [gateway] compute_api_endpoint, for example "
            "http://127.0.0.1:8774/v2.1: a static token comes with no service catalog."
        )
    if not gateway.admin_token and not conf.compute_api.auth_type:
        raise ConfigurationError(
            "Option [gateway] token_backend = compute_api needs credentials: set [compute_api] "
            "auth_type (for example password, with auth_url, username, password, "
            "project_name, user_domain_name and project_domain_name) or [gateway] admin_token "
            "for a Compute API that runs with noauth2."
        )
    for interface in gateway.compute_api_interfaces:
        if interface not in ("public", "internal", "admin"):
            raise ConfigurationError(
                f"Invalid entry {interface!r} in option [gateway] compute_api_interfaces: "
                "expected public, internal or admin."
            )
    return gateway.token_backend


def _rdp_ca_file(verify, path):
    if verify != "ca" or not path:
        return path or None
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"Invalid value {path!r} for option [gateway] rdp_ca_file: file not found. "
            "Give a PEM file of CA certificates, or leave it unset to use the system's CA certificates."
        )
    return path


def normalize_host(host):
    """Return ``host`` as the gateway compares it: IP addresses in compressed form, names in lower case."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower().rstrip(".")


def parse_fingerprint(text):
    """Return the 32 bytes of a SHA-256 fingerprint written in hex, with or without colons."""
    digits = text.strip().replace(":", "").lower()
    if len(digits) != 2 * SHA256_DIGEST_SIZE or not re.fullmatch(r"[0-9a-f]+", digits):
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint: expected 64 hex digits")
    return bytes.fromhex(digits)


def parse_pin(entry):
    """Parse ``host:port=fingerprint`` into ((host, port), digest); IPv6 hosts are in brackets."""
    target, separator, fingerprint = entry.partition("=")
    if not separator:
        raise ValueError(f"{entry!r} has no '=': expected host:port=fingerprint")
    host, colon, port_text = target.strip().rpartition(":")
    if not colon or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{target!r} is not host:port with a port from 1 to 65535")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ValueError(f"{target!r}: write an IPv6 address in brackets, as [2001:db8::5]:3389")
    return (normalize_host(host), int(port_text)), parse_fingerprint(fingerprint)


def _pinned_fingerprints(verify, entries):
    pins = {}
    for entry in entries:
        try:
            target, digest = parse_pin(entry)
        except ValueError as error:
            raise ConfigurationError(
                f"Invalid entry in option [gateway] rdp_pinned_fingerprints: {error}."
            ) from None
        pins.setdefault(target, set()).add(digest)
    if verify == "pin" and not pins:
        raise ConfigurationError(
            "Option [gateway] rdp_verify = pin needs [gateway] rdp_pinned_fingerprints: list "
            "host:port=sha256-fingerprint for every RDP server."
        )
    return {target: frozenset(digests) for target, digests in pins.items()}
