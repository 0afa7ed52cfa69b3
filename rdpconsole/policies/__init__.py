"""Policy rule defaults, with Nova 28.0.0's rule names, check strings and scopes.

``list_rules`` is the ``oslo.policy.policies`` entry point, so
``oslopolicy-sample-generator --namespace rdpconsole`` lists every rule here.
"""

import itertools

from rdpconsole.policies import base
from rdpconsole.policies import console_auth_tokens
from rdpconsole.policies import extended_server_attributes
from rdpconsole.policies import remote_consoles
from rdpconsole.policies import servers


def list_rules():
    return itertools.chain(
        base.list_rules(),
        console_auth_tokens.list_rules(),
        extended_server_attributes.list_rules(),
        remote_consoles.list_rules(),
        servers.list_rules(),
    )
