"""The option list for ``oslo-config-generator`` (entry point ``oslo.config.opts``)."""

from rdpconsole.conf import api
from rdpconsole.conf import consoleauth
from rdpconsole.conf import database
from rdpconsole.conf import default
from rdpconsole.conf import gateway
from rdpconsole.conf import rdp

_MODULES = (default, database, api, rdp, consoleauth, gateway)


def list_opts():
    """Return (group, options) pairs of every rdpconsole option."""
    result = []
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            result.append((group, opts))
    return result
