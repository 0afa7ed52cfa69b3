"""Options of the ``[api]`` group: the Compute API service."""

from oslo_config import cfg

api_group = cfg.OptGroup("api", title="Compute API options")

api_opts = [
    cfg.HostAddressOpt(
        "listen",
        default="127.0.0.1",
        help="IP address or host name the Compute API listens on. Use :: or "
        "0.0.0.0 to listen on every address.",
    ),
    cfg.PortOpt("port", default=8774, help="TCP port of the Compute API."),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth2",
        choices=[
            ("noauth2", "Development mode: X-Auth-Token is 'user:project' and "
             "the user 'admin' is an administrator. Never expose it to users."),
            ("keystone", "Validate Keystone v3 tokens with keystonemiddleware, "
             "configured in [keystone_authtoken]."),
        ],
        help="How API requests are authenticated.",
    ),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        help="Number of API worker processes. More than one needs a database "
        "that several processes can write at once, such as PostgreSQL or "
        "MySQL; SQLite serializes their writes.",
    ),
    cfg.IntOpt(
        "max_limit",
        default=1000,
        min=1,
        help="Maximum number of servers one list request returns, as Nova's "
        "[api] max_limit. A full page carries a 'next' link.",
    ),
]


def register_opts(conf):
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts():
    return {api_group: api_opts}
