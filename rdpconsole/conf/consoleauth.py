"""Options of the ``[consoleauth]`` group, named as in Nova 28.0.0."""

from oslo_config import cfg

consoleauth_group = cfg.OptGroup("consoleauth", title="Console token options")

consoleauth_opts = [
    cfg.IntOpt(
        "token_ttl",
        default=600,
        min=0,
        deprecated_name="console_token_ttl",
        deprecated_group="DEFAULT",
        help="Seconds a console token stays valid after it is issued.",
    ),
    cfg.IntOpt(
        "purge_interval",
        default=300,
        min=0,
        help="Seconds between two purges of expired console tokens by the "
        "running API service. 0 disables the periodic purge; "
        "'rdpconsole tokens purge' still works.",
    ),
]


def register_opts(conf):
    conf.register_group(consoleauth_group)
    conf.register_opts(consoleauth_opts, group=consoleauth_group)


def list_opts():
    return {consoleauth_group: consoleauth_opts}
