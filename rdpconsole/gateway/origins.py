"""The WebSocket Origin check and the request details read through trusted reverse proxies.

Browsers send the page's origin in the Origin header of every WebSocket
upgrade, and neither uvicorn nor the websockets library checks it. The
gateway accepts an exact list of origins (scheme, host and port) so that a
page on another site cannot open console sessions with a token it obtained.
A request without Origin comes from a program, not a browser, and is
accepted, as Nova's console proxies accept it.
"""

import ipaddress
import urllib.parse

DEFAULT_PORTS = {"http": 80, "https": 443}
# The scheme of the page that opened a WebSocket, by the WebSocket's scheme.
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class InvalidOrigin(ValueError):
    """A value that is not a scheme://host[:port] origin."""


def normalize_origin(value):
    """Return ``value`` as a lower-case ``scheme://host[:port]`` without the scheme's default port.

    Raises InvalidOrigin for anything else, such as a path, a user name, a
    scheme other than http or https, or the opaque origin "null".
    """
    text = value.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidOrigin(f"{value!r} is not an origin: invalid URL or port") from None

    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin(f"{value!r} is not an origin: expected scheme http or https")
    if not parts.hostname:
        raise InvalidOrigin(f"{value!r} is not an origin: no host")
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidOrigin(f"{value!r} is not an origin: expected only scheme://host[:port]")

    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_of_url(url):
    """Return the origin of an absolute http or https URL."""
    parts = urllib.parse.urlsplit(url)
    return normalize_origin(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")


def parse_networks(entries):
    """Parse IP addresses and networks; raise ValueError naming the first invalid entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network such as 10.0.0.5 or 10.0.0.0/24"
            ) from None
    return tuple(networks)


def _is_in(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _header(headers, name):
    """Return the first value of header ``name`` (lower-case bytes) as text, or None."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _first_item(value):
    return value.split(",")[0].strip() if value else ""


class RequestView:
    """Client address and request origin of one ASGI scope, honouring trusted proxies.

    X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are read only when
    the TCP peer is one of ``trusted_proxies``.
    """

    def __init__(self, scope, trusted_proxies=()):
        self.headers = scope.get("headers") or []
        client = scope.get("client")
        self.peer = client[0] if client else None
        self.peer_port = client[1] if client else None
        self.via_trusted_proxy = bool(self.peer and _is_in(self.peer, trusted_proxies))
        self._trusted_proxies = trusted_proxies
        self._scheme = scope.get("scheme", "http")

    def header(self, name):
        return _header(self.headers, name)

    @property
    def client_address(self):
        """The client's IP address: the TCP peer, or the last untrusted X-Forwarded-For hop."""
        if not self.via_trusted_proxy:
            return self.peer or "unknown"
        forwarded = self.header(b"x-forwarded-for")
        if not forwarded:
            return self.peer
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _is_in(hop, self._trusted_proxies):
                return hop
        return hops[0] if hops else self.peer

    def request_origin(self):
        """Return the origin that this request was sent to, or None without a usable Host header."""
        scheme = PAGE_SCHEMES.get(self._scheme, "http")
        host = self.header(b"host")
        if self.via_trusted_proxy:
            forwarded_scheme = _first_item(self.header(b"x-forwarded-proto")).lower()
            if forwarded_scheme in PAGE_SCHEMES:
                scheme = PAGE_SCHEMES[forwarded_scheme]
            forwarded_host = _first_item(self.header(b"x-forwarded-host"))
            if forwarded_host:
                host = forwarded_host
        if not host:
            return None
        try:
            return normalize_origin(f"{scheme}://{host}")
        except InvalidOrigin:
            return None


class OriginPolicy:
    """An exact allowlist of WebSocket origins, optionally plus the request's own origin."""

    def __init__(self, allowed_origins, allow_same_origin=False):
        self.allowed_origins = frozenset(allowed_origins)
        self.allow_same_origin = allow_same_origin

    def is_allowed(self, view):
        """Return whether the request's Origin header is allowed; a request without one is."""
        origin = view.header(b"origin")
        if origin is None:
            return True
        try:
            normalized = normalize_origin(origin)
        except InvalidOrigin:
            return False
        if normalized in self.allowed_origins:
            return True
        return self.allow_same_origin and normalized == view.request_origin()
