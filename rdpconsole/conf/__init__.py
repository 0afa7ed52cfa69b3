"""Configuration options, in the nova.conf style (oslo.config).

Importing this package registers every option on ``oslo_config.cfg.CONF``.
"""

from oslo_config import cfg

from rdpconsole.conf import api
from rdpconsole.conf import consoleauth
from rdpconsole.conf import database
from rdpconsole.conf import default
from rdpconsole.conf import gateway
from rdpconsole.conf import rdp

CONF = cfg.CONF

for _module in (default, database, api, rdp, consoleauth, gateway):
    _module.register_opts(CONF)
