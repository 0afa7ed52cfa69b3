"""Options of the ``[rdp]`` group, named as in Nova 28.0.0."""

from oslo_config import cfg

rdp_group = cfg.OptGroup("rdp", title="RDP console options")

rdp_opts = [
    cfg.URIOpt(
        "html5_proxy_base_url",
        default="http://127.0.0.1:6083/",
        schemes=["http", "https"],
        help="Public URL of the console gateway, as browsers reach it. A "
        "console URL is this URL with 'token=<token>' added to its query; "
        "its path prefix and any other query parameters are kept.",
    ),
]


def register_opts(conf):
    conf.register_group(rdp_group)
    conf.register_opts(rdp_opts, group=rdp_group)


def list_opts():
    return {rdp_group: rdp_opts}
