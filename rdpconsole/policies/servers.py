"""Server listing and display rules (the read-only part of Nova's servers API)."""

from oslo_policy import policy

from rdpconsole.policies import base

SERVERS = "os_compute_api:servers:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=SERVERS % "index",
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="List the servers of the caller's project.",
        operations=[{"method": "GET", "path": "/servers"}],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "detail",
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="List the servers of the caller's project with details.",
        operations=[{"method": "GET", "path": "/servers/detail"}],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "index:get_all_tenants",
        check_str=base.ADMIN,
        description="List the servers of every project (all_tenants query parameter).",
        operations=[{"method": "GET", "path": "/servers"}],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "detail:get_all_tenants",
        check_str=base.ADMIN,
        description=(
            "List the servers of every project with details (all_tenants query parameter)."
        ),
        operations=[{"method": "GET", "path": "/servers/detail"}],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "allow_all_filters",
        check_str=base.ADMIN,
        description=(
            "Filter server lists by any query parameter. Other callers' "
            "parameters are limited to the ones Nova allows non-administrators "
            "at the request's microversion; the rest are ignored."
        ),
        operations=[
            {"method": "GET", "path": "/servers"},
            {"method": "GET", "path": "/servers/detail"},
        ],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "show",
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="Show a server.",
        operations=[{"method": "GET", "path": "/servers/{server_id}"}],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "show:flavor-extra-specs",
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="Include the flavor's extra specs in server views (microversion 2.47 and later).",
        operations=[
            {"method": "GET", "path": "/servers/{server_id}"},
            {"method": "GET", "path": "/servers/detail"},
        ],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "show:host_status",
        check_str=base.ADMIN,
        description="Include host_status in server views (microversion 2.16 and later).",
        operations=[
            {"method": "GET", "path": "/servers/{server_id}"},
            {"method": "GET", "path": "/servers/detail"},
        ],
        scope_types=["project"],
    ),
    policy.DocumentedRuleDefault(
        name=SERVERS % "show:host_status:unknown-only",
        check_str=base.ADMIN,
        description=(
            "Include host_status in server views only when it is UNKNOWN. "
            "Checked only when os_compute_api:servers:show:host_status fails."
        ),
        operations=[
            {"method": "GET", "path": "/servers/{server_id}"},
            {"method": "GET", "path": "/servers/detail"},
        ],
        scope_types=["project"],
    ),
]


def list_rules():
    return rules
