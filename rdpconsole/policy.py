"""The policy enforcer: Nova's rule names and defaults, overridable by a policy file.

As in Nova 27.0.0 and later, ``[oslo_policy] enforce_new_defaults`` and
``enforce_scope`` default to True, so the deprecated legacy rules only apply
when an operator turns them off, and system-scoped tokens are rejected by
the project-scoped rules.

oslo.policy reads ``[oslo_policy] policy_file`` once and afterwards only
checks its modification time, so a changed file takes effect without a
restart and an unchanged one is never parsed again.
"""

import logging

from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from rdpconsole import policies
from rdpconsole.domain import exceptions

LOG = logging.getLogger(__name__)

DEFAULT_POLICY_FILE = "policy.yaml"


@oslo_policy.register("is_admin")
class IsAdminCheck(oslo_policy.Check):
    """The ``is_admin:True`` check of Nova's legacy rules, matched against the context."""

    def __init__(self, kind, match):
        self.expected = match.lower() == "true"
        super().__init__(kind, str(self.expected))

    def __call__(self, target, creds, enforcer):
        return creds.get("is_admin", False) == self.expected


def set_defaults(conf):
    """Register the ``[oslo_policy]`` options on ``conf`` with Nova 27+ defaults.

    oslo.policy 5.0 removed ``enforce_scope`` and always checks scopes, so
    its default is set only where the option still exists.
    """
    defaults = {"enforce_new_defaults": True}
    option_names = {opt.dest for _group, opts in policy_opts.list_opts() for opt in opts}
    if "enforce_scope" in option_names:
        defaults["enforce_scope"] = True
    policy_opts.set_defaults(conf, policy_file=DEFAULT_POLICY_FILE, **defaults)


def create_enforcer(conf):
    """Return an Enforcer with every rdpconsole rule registered and the policy file loaded."""
    set_defaults(conf)
    enforcer = oslo_policy.Enforcer(conf)
    # Nova's defaults changed on purpose; warning about each change on every start is noise.
    enforcer.suppress_default_change_warnings = True
    enforcer.register_defaults(policies.list_rules())
    enforcer.load_rules()
    return enforcer


def credentials(context):
    """Return the policy credentials of ``context``, with Nova's ``is_admin`` added."""
    creds = dict(context.to_policy_values().items())
    creds["is_admin"] = bool(context.is_admin)
    return creds


def default_target(context):
    return {"project_id": context.project_id, "user_id": context.user_id}


def authorize(enforcer, context, action, target=None, fatal=True):
    """Check ``action`` for ``context`` on ``target`` (default: the caller's own project).

    Raises PolicyNotAuthorized when the rule fails or the token's scope does
    not fit the rule, unless ``fatal`` is False; then it returns False.
    """
    if target is None:
        target = default_target(context)
    try:
        return enforcer.authorize(
            action, target, credentials(context),
            do_raise=True, exc=exceptions.PolicyNotAuthorized, action=action,
        )
    except oslo_policy.InvalidScope:
        LOG.debug("Policy %s rejected the token scope of user %s", action, context.user_id)
        if fatal:
            raise exceptions.PolicyNotAuthorized(action=action) from None
        return False
    except exceptions.PolicyNotAuthorized:
        if fatal:
            raise
        return False


def is_admin(enforcer, context):
    """Return whether ``context`` passes ``context_is_admin``, as Nova's is_admin does."""
    return bool(
        enforcer.authorize(
            "context_is_admin", default_target(context), credentials(context), do_raise=False
        )
    )
