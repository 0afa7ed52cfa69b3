"""The policy enforcer: Nova's rule names and defaults, overridable by a policy file.

As in Nova 27.0.0 and later, ``[oslo_policy] enforce_new_defaults`` and
``enforce_scope`` default to True, so the deprecated legacy rules only apply
when an operator turns them off, and system-scoped tokens are rejected by
the project-scoped rules.

oslo.policy reads ``[oslo_policy] policy_file`` once and afterwards only
checks its modification time, so a changed file takes effect without a
restart and an unchanged one is never parsed again. rdpconsole's Enforcer
makes that check at most once per RULES_CHECK_INTERVAL_SECONDS instead of on
every policy check, and remembers the outcome of each check until then.
"""

import logging
import threading
import time

from oslo_policy import _checks
from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from rdpconsole import context as context_module
from rdpconsole import policies
from rdpconsole.conf import loading
from rdpconsole.domain import exceptions

LOG = logging.getLogger(__name__)

DEFAULT_POLICY_FILE = "policy.yaml"

# oslo.policy 6.0.1 looks for the policy file and every [oslo_policy]
# policy_dirs entry again on every check, which cost more than the check
# itself. A changed policy file takes effect within this many seconds.
RULES_CHECK_INTERVAL_SECONDS = 1.0

# Upper bound on remembered check outcomes; the memory is emptied when full.
MAX_REMEMBERED_OUTCOMES = 4096

ALLOWED = "allowed"
DENIED = "denied"
INVALID_SCOPE = "invalid scope"


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


class _Denied(Exception):
    """Raised by oslo.policy inside Enforcer.check when a rule fails."""


class Enforcer(oslo_policy.Enforcer):
    """An oslo.policy Enforcer that checks the policy files at most once per interval.

    ``check`` also remembers the outcome of each (rule, target, credentials)
    until the next look at the policy files, which makes a repeated check
    a dictionary lookup. It remembers nothing while any rule contains a
    check other than oslo.policy's role, rule, generic, true, false, and, or
    and not checks and rdpconsole's is_admin check, because only those
    depend on nothing but the rule, the target and the credentials (an
    ``http:`` check asks a remote server, for example).
    """

    def __init__(self, conf, rules_check_interval=RULES_CHECK_INTERVAL_SECONDS,
                 clock=time.monotonic, **kwargs):
        super().__init__(conf, **kwargs)
        self._rules_check_interval = rules_check_interval
        self._clock = clock
        self._rules_checked_at = None
        self._rules_lock = threading.Lock()
        self._outcomes = {}
        self._outcomes_allowed = False
        self._last_failure = None

    def load_rules(self, force_reload=False):
        now = self._clock()
        checked_at = self._rules_checked_at
        if (not force_reload and checked_at is not None
                and now - checked_at < self._rules_check_interval):
            return
        with self._rules_lock:
            try:
                super().load_rules(force_reload)
            except Exception as error:  # noqa: BLE001 - yaml, oslo.policy and file errors alike
                if checked_at is None:
                    raise PolicyFileError(self._describe_failure(error)) from None
                # A broken edit of a running service's policy file keeps the
                # rules already loaded; the file is read again next interval.
                self._rules_checked_at = now
                message = self._describe_failure(error)
                if message != self._last_failure:
                    LOG.error("%s Keeping the policy rules loaded before.", message)
                    self._last_failure = message
                return
            if self._last_failure is not None:
                LOG.info("Policy file read again successfully; its rules apply now")
                self._last_failure = None
            self._outcomes = {}
            self._outcomes_allowed = all(_is_pure(rule) for rule in self.rules.values())
            self._rules_checked_at = now

    def _describe_failure(self, error):
        path = self.policy_path or self.conf.oslo_policy.policy_file
        reason = " ".join(str(error).split())
        return (
            f"Policy file {path} cannot be used: {reason}. Fix its YAML or JSON, or remove "
            "it to use the default rules."
        )

    def set_rules(self, rules, overwrite=True, use_conf=False):
        super().set_rules(rules, overwrite=overwrite, use_conf=use_conf)
        self._forget_outcomes()

    def clear(self):
        super().clear()
        self._forget_outcomes()

    def _forget_outcomes(self):
        self._outcomes = {}
        self._outcomes_allowed = False
        self._rules_checked_at = None

    def check(self, rule, target, creds, creds_key=None):
        """Return ALLOWED, DENIED or INVALID_SCOPE for ``rule``; raise PolicyNotRegistered if unknown.

        ``creds_key``, when given, is a hashable value that identifies
        ``creds``; without it, check() builds one from the credentials.
        """
        self.load_rules()
        # A reload replaces the dictionary, so an outcome of the old rules
        # that another thread is still computing never lands in the new one.
        outcomes = self._outcomes
        key = None
        if self._outcomes_allowed:
            key = _outcome_key(rule, target, creds, creds_key)
        if key is not None:
            outcome = outcomes.get(key)
            if outcome is not None:
                return outcome

        try:
            self.authorize(rule, target, dict(creds), do_raise=True, exc=_Denied)
            outcome = ALLOWED
        except oslo_policy.InvalidScope:
            outcome = INVALID_SCOPE
        except _Denied:
            outcome = DENIED

        if key is not None:
            if len(outcomes) >= MAX_REMEMBERED_OUTCOMES:
                outcomes.clear()
            outcomes[key] = outcome
        return outcome


_PURE_CHECKS = (
    _checks.TrueCheck, _checks.FalseCheck, _checks.RoleCheck, _checks.RuleCheck,
    _checks.GenericCheck, _checks.AndCheck, _checks.OrCheck, _checks.NotCheck,
)


def _is_pure(check):
    """Return whether ``check`` and the checks inside it depend only on rules, target and credentials."""
    if type(check) is IsAdminCheck or type(check) in _PURE_CHECKS:
        if isinstance(check, (_checks.AndCheck, _checks.OrCheck)):
            return all(_is_pure(inner) for inner in check.rules)
        if isinstance(check, _checks.NotCheck):
            return _is_pure(check.rule)
        return True
    return False


def _outcome_key(rule, target, creds, creds_key=None):
    """Return a hashable key of a check's inputs, or None when a value cannot be hashed."""
    if creds_key is None:
        creds_key = tuple((name, tuple(value) if isinstance(value, list) else value)
                          for name, value in creds.items())
    key = (rule, tuple(target.items()), creds_key)
    try:
        hash(key)
    except TypeError:
        return None
    return key


class PolicyFileError(loading.ConfigurationError):
    """The policy file cannot be read or parsed when the service starts."""


def create_enforcer(conf, clock=time.monotonic):
    """Return an Enforcer with every rdpconsole rule registered and the policy file loaded.

    ``clock`` returns seconds and decides when the policy files are checked again.
    """
    set_defaults(conf)
    enforcer = Enforcer(conf, clock=clock)
    # Nova's defaults changed on purpose; warning about each change on every start is noise.
    enforcer.suppress_default_change_warnings = True
    enforcer.register_defaults(policies.list_rules())
    enforcer.load_rules()
    configured = conf.oslo_policy.policy_file
    if configured != DEFAULT_POLICY_FILE and not enforcer.policy_path:
        LOG.warning("Policy file %s from [oslo_policy] policy_file was not found; the default "
                    "rules apply. Check the path, relative paths are searched next to the "
                    "configuration files.", configured)
    return enforcer


def credentials(context):
    """Return the policy credentials of ``context``, with Nova's ``is_admin`` added."""
    return _credentials_and_key(context)[0]


def _credentials_and_key(context):
    """Return the policy credentials of ``context`` and a hashable key of them, or None."""
    is_admin = bool(context.is_admin)
    if isinstance(context, context_module.RequestContext):
        values, values_key = context.policy_values()
        creds = dict(values)
        creds["is_admin"] = is_admin
        return creds, (values_key, is_admin)
    creds = dict(context.to_policy_values().items())
    creds["is_admin"] = is_admin
    return creds, None


def default_target(context):
    return {"project_id": context.project_id, "user_id": context.user_id}


def authorize(enforcer, context, action, target=None, fatal=True):
    """Check ``action`` for ``context`` on ``target`` (default: the caller's own project).

    Returns True when the rule passes. Raises PolicyNotAuthorized when the
    rule fails or the token's scope does not fit the rule, unless ``fatal``
    is False; then it returns False.
    """
    if target is None:
        target = default_target(context)
    creds, creds_key = _credentials_and_key(context)
    outcome = enforcer.check(action, target, creds, creds_key)
    if outcome == ALLOWED:
        return True
    if outcome == INVALID_SCOPE:
        LOG.debug("Policy %s rejected the token scope of user %s", action, context.user_id)
    if fatal:
        raise exceptions.PolicyNotAuthorized(action=action)
    return False


def is_admin(enforcer, context):
    """Return whether ``context`` passes ``context_is_admin``, as Nova's is_admin does."""
    creds, creds_key = _credentials_and_key(context)
    outcome = enforcer.check("context_is_admin", default_target(context), creds, creds_key)
    return outcome == ALLOWED
