"""The rule that adds the OS-EXT-SRV-ATTR:* fields to server views."""

from oslo_policy import policy

from rdpconsole.policies import base

BASE_POLICY_NAME = "os_compute_api:os-extended-server-attributes"

rules = [
    policy.DocumentedRuleDefault(
        name=BASE_POLICY_NAME,
        check_str=base.ADMIN,
        description=(
            "Include the OS-EXT-SRV-ATTR:* fields (compute host, instance "
            "name, hypervisor host name and, from microversion 2.3, the "
            "reservation id, launch index, host name, kernel and ramdisk ids, "
            "root device name and user data) in server views."
        ),
        operations=[
            {"method": "GET", "path": "/servers/{id}"},
            {"method": "GET", "path": "/servers/detail"},
        ],
        scope_types=["project"],
    ),
]


def list_rules():
    return rules
