"""Base rules that the API rules refer to, as Nova 28.0.0 defines them.

Nova 21.0.0 deprecated the legacy defaults (``is_admin:True`` and
``is_admin:True or project_id:%(project_id)s``); they only apply when
``[oslo_policy] enforce_new_defaults`` is False.
"""

from oslo_policy import policy

RULE_ADMIN_OR_OWNER = "rule:admin_or_owner"
RULE_ADMIN_API = "rule:admin_api"

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "rule:project_member_api"
PROJECT_READER = "rule:project_reader_api"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"

DEPRECATED_REASON = (
    "Nova 21.0.0 introduced project-scoped default roles (reader, member, "
    "admin); the legacy is_admin and owner rules are kept only for policy "
    "files written for older releases."
)

DEPRECATED_ADMIN_POLICY = policy.DeprecatedRule(
    name=RULE_ADMIN_API,
    check_str="is_admin:True",
    deprecated_reason=DEPRECATED_REASON,
    deprecated_since="21.0.0",
)

DEPRECATED_ADMIN_OR_OWNER_POLICY = policy.DeprecatedRule(
    name=RULE_ADMIN_OR_OWNER,
    check_str="is_admin:True or project_id:%(project_id)s",
    deprecated_reason=DEPRECATED_REASON,
    deprecated_since="21.0.0",
)

rules = [
    policy.RuleDefault(
        "context_is_admin",
        "role:admin",
        "Roles that make a caller an administrator: is_admin:True checks and "
        "visibility of every project's servers follow this rule.",
        deprecated_rule=DEPRECATED_ADMIN_POLICY,
    ),
    policy.RuleDefault(
        "admin_or_owner",
        "is_admin:True or project_id:%(project_id)s",
        "Legacy default of project-level APIs.",
        deprecated_for_removal=True,
        deprecated_reason=DEPRECATED_REASON,
        deprecated_since="21.0.0",
    ),
    policy.RuleDefault(
        "admin_api",
        "is_admin:True",
        "Legacy default of administrator APIs.",
        deprecated_for_removal=True,
        deprecated_reason=DEPRECATED_REASON,
        deprecated_since="21.0.0",
    ),
    policy.RuleDefault(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
        "A member of the target's project.",
        deprecated_rule=DEPRECATED_ADMIN_OR_OWNER_POLICY,
    ),
    policy.RuleDefault(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
        "A reader of the target's project.",
        deprecated_rule=DEPRECATED_ADMIN_OR_OWNER_POLICY,
    ),
    policy.RuleDefault(
        "project_member_or_admin",
        "rule:project_member_api or rule:context_is_admin",
        "A member of the target's project, or an administrator.",
        deprecated_rule=DEPRECATED_ADMIN_OR_OWNER_POLICY,
    ),
    policy.RuleDefault(
        "project_reader_or_admin",
        "rule:project_reader_api or rule:context_is_admin",
        "A reader of the target's project, or an administrator.",
        deprecated_rule=DEPRECATED_ADMIN_OR_OWNER_POLICY,
    ),
]


def list_rules():
    return rules
