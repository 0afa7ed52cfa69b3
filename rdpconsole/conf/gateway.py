"""Options of the ``[gateway]`` group: the console gateway service."""

from oslo_config import cfg

gateway_group = cfg.OptGroup("gateway", title="Console gateway options")

gateway_opts = [
    cfg.HostAddressOpt(
        "listen",
        default="127.0.0.1",
        help="IP address or host name the console gateway listens on.",
    ),
    cfg.PortOpt("port", default=6083, help="TCP port of the console gateway."),
]


def register_opts(conf):
    conf.register_group(gateway_group)
    conf.register_opts(gateway_opts, group=gateway_group)


def list_opts():
    return {gateway_group: gateway_opts}
