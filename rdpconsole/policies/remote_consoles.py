"""The console rule: who may get a console URL for a server."""

from oslo_policy import policy

from rdpconsole.policies import base

BASE_POLICY_NAME = "os_compute_api:os-remote-consoles"

rules = [
    policy.DocumentedRuleDefault(
        name=BASE_POLICY_NAME,
        check_str=base.PROJECT_MEMBER_OR_ADMIN,
        description=(
            "Issue a console URL for a server. The legacy server actions are "
            "checked against the caller's own project before the server is "
            "looked up; POST /servers/{server_id}/remote-consoles is checked "
            "against the server's project after the lookup."
        ),
        operations=[
            {"method": "POST", "path": "/servers/{server_id}/action (os-getRDPConsole)"},
            {"method": "POST", "path": "/servers/{server_id}/action (os-getSerialConsole)"},
            {"method": "POST", "path": "/servers/{server_id}/action (os-getSPICEConsole)"},
            {"method": "POST", "path": "/servers/{server_id}/action (os-getVNCConsole)"},
            {"method": "POST", "path": "/servers/{server_id}/remote-consoles"},
        ],
        scope_types=["project"],
    ),
]


def list_rules():
    return rules
