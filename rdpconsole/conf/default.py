"""Options of the ``[DEFAULT]`` group."""

import os

from oslo_config import cfg

STATE_PATH_DEFAULT = os.path.join(os.path.expanduser("~"), ".local", "state", "rdpconsole")

default_opts = [
    cfg.StrOpt(
        "state_path",
        default=STATE_PATH_DEFAULT,
        sample_default="$HOME/.local/state/rdpconsole",
        help="Folder for the service's own files: the default SQLite database "
        "and files that the demo creates. Created on start if missing.",
    ),
    cfg.BoolOpt(
        "debug",
        default=False,
        help="Log at DEBUG level instead of INFO. Debug lines still never "
        "contain a clear console token, password, keystroke or clipboard text.",
    ),
]


def register_opts(conf):
    conf.register_opts(default_opts)


def list_opts():
    return {"DEFAULT": default_opts}
