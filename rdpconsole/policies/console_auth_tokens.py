"""The token rule: who may resolve a console token to its connection details."""

from oslo_policy import policy

from rdpconsole.policies import base

BASE_POLICY_NAME = "os_compute_api:os-console-auth-tokens"

rules = [
    policy.DocumentedRuleDefault(
        name=BASE_POLICY_NAME,
        check_str=base.ADMIN,
        description=(
            "Show the host, port and internal access path behind a console "
            "token. Console gateways call this with an administrator account."
        ),
        operations=[{"method": "GET", "path": "/os-console-auth-tokens/{console_token}"}],
        scope_types=["project"],
    ),
]


def list_rules():
    return rules
