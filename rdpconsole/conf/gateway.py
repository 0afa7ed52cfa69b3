"""Options of the ``[gateway]`` group (the console gateway) and of ``[compute_api]``.

``[compute_api]`` contains the keystoneauth1 credentials that the gateway uses
when ``[gateway] token_backend = compute_api``.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

gateway_group = cfg.OptGroup("gateway", title="Console gateway options")

COMPUTE_API_GROUP = "compute_api"
compute_api_group = cfg.OptGroup(
    COMPUTE_API_GROUP,
    title="Credentials of the console gateway for the Compute API",
    help="Used only with [gateway] token_backend = compute_api. Set auth_type "
    "= password with auth_url, username, password, project_name, "
    "user_domain_name and project_domain_name, like the [keystone_authtoken] "
    "style sections of other OpenStack services. The user needs the admin "
    "role, because the token-validation API is admin-only.",
)

# The RDCleanPath request of IronRDP's web client is about 100 bytes; the
# wire module's assembler bounds it at 64 KiB. This bounds every other
# WebSocket message from the browser: RDP input, clipboard and virtual
# channel PDUs fit in one TPKT of at most 65,535 bytes, and the web client
# may send several in one message.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024

_timeout_opts = [
    cfg.FloatOpt(
        "handshake_timeout",
        default=10.0,
        min=0.1,
        help="Seconds a new TCP connection gets to send a complete HTTP request "
        "(a page request or the WebSocket upgrade). Silent or half-open "
        "connections are closed after this time.",
    ),
    cfg.FloatOpt(
        "request_timeout",
        default=10.0,
        min=0.1,
        help="Seconds a WebSocket client gets, after the upgrade, to send its "
        "whole RDCleanPath request.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=10.0,
        min=0.1,
        help="Seconds the TCP connect to the server's RDP endpoint may take. On "
        "timeout the browser gets Windows Sockets error 10060.",
    ),
    cfg.FloatOpt(
        "x224_timeout",
        default=10.0,
        min=0.1,
        help="Seconds the RDP server gets to answer the X.224 Connection Request "
        "with its Connection Confirm.",
    ),
    cfg.FloatOpt(
        "tls_timeout",
        default=10.0,
        min=0.1,
        help="Seconds the TLS handshake with the RDP server may take.",
    ),
    cfg.FloatOpt(
        "ping_interval",
        default=20.0,
        min=0,
        help="Seconds between two WebSocket pings that the gateway sends to find "
        "browsers that vanished without closing. 0 turns pings off.",
    ),
    cfg.FloatOpt(
        "ping_timeout",
        default=20.0,
        min=0,
        help="Seconds the browser gets to respond to a WebSocket ping before the "
        "session is closed. 0 waits forever.",
    ),
    cfg.FloatOpt(
        "idle_timeout",
        default=0,
        min=0,
        help="Seconds without any RDP data in either direction after which a "
        "session is closed. 0 turns the limit off. An open RDP desktop "
        "usually sends data every few seconds, so this mostly ends sessions "
        "whose RDP server stopped answering.",
    ),
    cfg.FloatOpt(
        "max_session_duration",
        default=0,
        min=0,
        help="Seconds after which a session is closed however active it is. 0 "
        "turns the limit off.",
    ),
]

_page_opts = [
    cfg.StrOpt(
        "web_client_path",
        help="Folder that contains the node_modules folder with the IronRDP web "
        "client (created by 'npm ci' from package-lock.json). Paths in "
        "rdpconsole/gateway/static/assets.json are relative to this folder; "
        "when it is unset they are relative to the source tree that contains "
        "the rdpconsole package.",
    ),
    cfg.StrOpt(
        "frame_ancestors",
        default="*",
        help="Value of the Content-Security-Policy frame-ancestors directive of "
        "the console page: the sites that may show the console in an iframe. "
        "The default '*' lets an out-of-the-box Horizon embed it. To narrow "
        "it, list the dashboard's origin, for example "
        "'https://dashboard.example.org', or set 'none' to forbid embedding.",
    ),
]

_origin_opts = [
    cfg.ListOpt(
        "allowed_origins",
        default=[],
        help="WebSocket Origin values accepted by the gateway, each as "
        "scheme://host[:port] and compared exactly (the default port of the "
        "scheme may be left out). Empty means only the origin of [rdp] "
        "html5_proxy_base_url. A browser WebSocket from any other origin is "
        "rejected with HTTP 403; a client that sends no Origin header is "
        "not a browser and is accepted.",
    ),
    cfg.BoolOpt(
        "allow_same_origin",
        default=False,
        help="Also accept a WebSocket whose Origin equals the origin the request "
        "itself was sent to: its Host header and scheme, or X-Forwarded-Host "
        "and X-Forwarded-Proto from a trusted proxy. This accepts every host "
        "name that resolves to the gateway, including names an attacker "
        "points at it (DNS rebinding), so prefer listing origins in "
        "allowed_origins.",
    ),
    cfg.ListOpt(
        "trusted_proxies",
        default=[],
        help="IP addresses and networks (such as 10.0.0.5 or 10.0.0.0/24) of "
        "reverse proxies in front of the gateway. X-Forwarded-For, "
        "X-Forwarded-Proto and X-Forwarded-Host are read only from these "
        "peers, for the client address in logs and for allow_same_origin.",
    ),
]

_session_opts = [
    cfg.IntOpt(
        "max_sessions_per_token",
        default=1,
        min=1,
        help="Maximum number of console sessions open at the same time with one "
        "console token. A token counts only while its sessions are open. "
        "The count is kept per gateway process: with several gateway "
        "processes behind a load balancer, a token can open this many "
        "sessions on each.",
    ),
    cfg.IntOpt(
        "max_message_size",
        default=DEFAULT_MAX_MESSAGE_SIZE,
        min=64 * 1024,
        help="Maximum size in bytes of one WebSocket message from the browser. "
        "A larger message closes the session with WebSocket close code 1009. "
        "It also bounds memory: the websockets library (version 17) keeps a "
        "session's last message from the browser until the next one arrives.",
    ),
]

_rdp_tls_opts = [
    cfg.StrOpt(
        "rdp_verify",
        default="none",
        choices=[
            ("none", "Accept any certificate of the RDP server. Windows' RDP "
             "certificates are self-signed by default. The browser still binds "
             "CredSSP (NLA) to the certificate that the gateway received."),
            ("ca", "Verify the certificate chain against rdp_ca_file (or the "
             "system's CA certificates when it is unset) and, with "
             "rdp_check_hostname, the server's host name or IP address."),
            ("pin", "Accept only certificates whose SHA-256 fingerprint is listed "
             "for the server's host and port in rdp_pinned_fingerprints."),
        ],
        help="How the gateway verifies the TLS certificate of the RDP server.",
    ),
    cfg.StrOpt(
        "rdp_ca_file",
        help="PEM file of CA certificates that sign the RDP servers' "
        "certificates, used with rdp_verify = ca.",
    ),
    cfg.BoolOpt(
        "rdp_check_hostname",
        default=True,
        help="With rdp_verify = ca, also require that the certificate names the "
        "host or IP address of the token's console endpoint.",
    ),
    cfg.ListOpt(
        "rdp_pinned_fingerprints",
        default=[],
        help="With rdp_verify = pin: entries host:port=fingerprint, where the "
        "fingerprint is the SHA-256 digest of the server's DER certificate in "
        "hex, with or without colons (openssl x509 -noout -fingerprint "
        "-sha256). Write IPv6 hosts in brackets: [2001:db8::5]:2179=ab12... "
        "Several entries for one host:port are all accepted.",
    ),
]

_token_opts = [
    cfg.StrOpt(
        "token_backend",
        default="database",
        choices=[
            ("database", "Look tokens up in the [database] that the Compute API "
             "writes. The gateway and the API share the database."),
            ("compute_api", "Ask a Compute API with GET "
             "/os-console-auth-tokens/<token> (admin-only), as "
             "FreeRDP-WebConnect did with Nova. The request carries no "
             "microversion, so it runs at 2.1, where the API returns details only for "
             "rdp-html5 tokens. The project of each session's server comes "
             "from GET /servers/<id> and is logged as unknown if that fails."),
        ],
        help="Where the gateway validates console tokens.",
    ),
    cfg.URIOpt(
        "compute_api_endpoint",
        schemes=["http", "https"],
        help="Base URL of the Compute API v2.1 for token_backend = compute_api, "
        "for example http://127.0.0.1:8774/v2.1. When unset, the endpoint of "
        "service type 'compute' is taken from the Keystone catalog of the "
        "[compute_api] credentials.",
    ),
    cfg.ListOpt(
        "compute_api_interfaces",
        default=["internal", "public"],
        help="Catalog interfaces to try, in order, when compute_api_endpoint is "
        "unset: public, internal or admin.",
    ),
    cfg.StrOpt(
        "compute_api_region",
        help="Region of the catalog endpoint when compute_api_endpoint is unset.",
    ),
    cfg.StrOpt(
        "admin_token",
        secret=True,
        help="Static X-Auth-Token for a Compute API that runs with "
        "[api] auth_strategy = noauth2, such as 'admin:admin'. Needs "
        "compute_api_endpoint. When set, the [compute_api] credentials are "
        "not used.",
    ),
    cfg.FloatOpt(
        "compute_api_timeout",
        default=10.0,
        min=0.1,
        help="Seconds one request to the Compute API (and to Keystone) may take.",
    ),
]

gateway_opts = [
    cfg.HostAddressOpt(
        "listen",
        default="127.0.0.1",
        help="IP address or host name the console gateway listens on.",
    ),
    cfg.PortOpt("port", default=6083, help="TCP port of the console gateway."),
    *_page_opts,
    *_origin_opts,
    *_token_opts,
    *_session_opts,
    *_timeout_opts,
    *_rdp_tls_opts,
]


def _compute_api_opts():
    # keystoneauth1 registers the options of the chosen auth_type plugin
    # (auth_url, username, ...) when it loads the plugin. Registering the
    # password plugin's options here would make auth_url required even when
    # token_backend = database.
    return ks_loading.get_auth_common_conf_options() + ks_loading.get_session_conf_options()


def register_opts(conf):
    conf.register_group(gateway_group)
    conf.register_opts(gateway_opts, group=gateway_group)
    conf.register_group(compute_api_group)
    conf.register_opts(_compute_api_opts(), group=compute_api_group)


def list_opts():
    return {gateway_group: gateway_opts, compute_api_group: _compute_api_opts()}
