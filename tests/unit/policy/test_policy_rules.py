"""Policy defaults (Nova 28.0.0 names, check strings and scopes), enforcement
with Nova 27+ settings, and overrides from a policy file."""

import importlib.metadata
import os

import pytest
from oslo_config import cfg
from oslo_policy import policy as oslo_policy

from rdpconsole import context as context_module
from rdpconsole import policies
from rdpconsole import policy
from rdpconsole.domain import exceptions

PROJECT = "a1b2c3"
OTHER_PROJECT = "d4e5f6"

EXPECTED_DEFAULTS = {
    "context_is_admin": "role:admin",
    "admin_or_owner": "is_admin:True or project_id:%(project_id)s",
    "admin_api": "is_admin:True",
    "project_member_api": "role:member and project_id:%(project_id)s",
    "project_reader_api": "role:reader and project_id:%(project_id)s",
    "project_member_or_admin": "rule:project_member_api or rule:context_is_admin",
    "project_reader_or_admin": "rule:project_reader_api or rule:context_is_admin",
    "os_compute_api:os-remote-consoles": "rule:project_member_or_admin",
    "os_compute_api:os-console-auth-tokens": "rule:context_is_admin",
    "os_compute_api:os-extended-server-attributes": "rule:context_is_admin",
    "os_compute_api:servers:index": "rule:project_reader_or_admin",
    "os_compute_api:servers:detail": "rule:project_reader_or_admin",
    "os_compute_api:servers:show": "rule:project_reader_or_admin",
    "os_compute_api:servers:index:get_all_tenants": "rule:context_is_admin",
    "os_compute_api:servers:detail:get_all_tenants": "rule:context_is_admin",
    "os_compute_api:servers:allow_all_filters": "rule:context_is_admin",
    "os_compute_api:servers:show:flavor-extra-specs": "rule:project_reader_or_admin",
    "os_compute_api:servers:show:host_status": "rule:context_is_admin",
    "os_compute_api:servers:show:host_status:unknown-only": "rule:context_is_admin",
}
API_RULES = [name for name in EXPECTED_DEFAULTS if name.startswith("os_compute_api:")]


def make_conf(tmp_path, policy_lines=None, **oslo_policy_options):
    conf = cfg.ConfigOpts()
    policy.set_defaults(conf)
    options = dict(oslo_policy_options)
    if policy_lines is not None:
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text("\n".join(policy_lines) + "\n")
        options["policy_file"] = str(policy_file)
    config_file = tmp_path / "rdpconsole.conf"
    config_file.write_text(
        "[oslo_policy]\n" + "".join(f"{name} = {value}\n" for name, value in options.items())
    )
    conf([], project="rdpconsole", default_config_files=[str(config_file)], default_config_dirs=[])
    return conf


def make_context(user="alice", project=PROJECT, roles=("member", "reader"), **kwargs):
    context = context_module.RequestContext(
        user_id=user, project_id=project, roles=list(roles), **kwargs
    )
    return context


@pytest.fixture
def enforcer(tmp_path):
    return policy.create_enforcer(make_conf(tmp_path))


def allowed(enforcer, context, rule, project=PROJECT):
    return bool(policy.authorize(enforcer, context, rule, {"project_id": project}, fatal=False))


def test_default_check_strings():
    defaults = {rule.name: rule.check_str for rule in policies.list_rules()}

    assert defaults == EXPECTED_DEFAULTS


@pytest.mark.parametrize("name", API_RULES)
def test_api_rules_are_project_scoped(name):
    rule = {rule.name: rule for rule in policies.list_rules()}[name]

    assert rule.scope_types == ["project"]


def test_entry_point_lists_rules():
    entry_points = importlib.metadata.entry_points(group="oslo.policy.policies")
    rdpconsole_entry = [entry for entry in entry_points if entry.name == "rdpconsole"]

    assert len(rdpconsole_entry) == 1
    names = {rule.name for rule in rdpconsole_entry[0].load()()}
    assert names == set(EXPECTED_DEFAULTS)


def test_nova_27_defaults_enforced(tmp_path):
    conf = make_conf(tmp_path)
    policy.create_enforcer(conf)

    assert conf.oslo_policy.enforce_new_defaults is True
    # oslo.policy 5.0 and later always enforce scopes and have no option for it.
    assert getattr(conf.oslo_policy, "enforce_scope", True) is True


@pytest.mark.parametrize(
    "roles, project, expected",
    [
        (("member", "reader"), PROJECT, True),
        (("member",), PROJECT, True),
        (("reader",), PROJECT, False),
        ((), PROJECT, False),
        (("member", "reader"), OTHER_PROJECT, False),
        (("admin",), OTHER_PROJECT, True),
    ],
)
def test_remote_consoles_defaults(enforcer, roles, project, expected):
    context = make_context(roles=roles)

    assert allowed(enforcer, context, "os_compute_api:os-remote-consoles", project) is expected


@pytest.mark.parametrize(
    "roles, expected",
    [(("admin",), True), (("member", "reader"), False), (("reader",), False)],
)
def test_console_auth_tokens_defaults(enforcer, roles, expected):
    context = make_context(roles=roles)

    assert allowed(enforcer, context, "os_compute_api:os-console-auth-tokens") is expected


@pytest.mark.parametrize(
    "roles, expected",
    [(("reader",), True), (("member",), False), (("admin",), True), ((), False)],
)
def test_servers_show_defaults(enforcer, roles, expected):
    context = make_context(roles=roles)

    assert allowed(enforcer, context, "os_compute_api:servers:show") is expected


def test_system_scope_rejected(enforcer):
    context = make_context(project=None, roles=("admin",), system_scope="all")

    with pytest.raises(exceptions.PolicyNotAuthorized) as caught:
        policy.authorize(enforcer, context, "os_compute_api:os-console-auth-tokens")
    assert caught.value.message == (
        "Policy doesn't allow os_compute_api:os-console-auth-tokens to be performed."
    )


def test_owner_without_roles_allowed_by_legacy_defaults(tmp_path):
    enforcer = policy.create_enforcer(make_conf(tmp_path, enforce_new_defaults=False))
    context = make_context(roles=())

    assert allowed(enforcer, context, "os_compute_api:os-remote-consoles") is True


def test_denial_raises_policy_not_authorized(enforcer):
    with pytest.raises(exceptions.PolicyNotAuthorized) as caught:
        policy.authorize(enforcer, make_context(roles=("reader",)), "os_compute_api:os-remote-consoles")

    assert caught.value.code == 403


def test_policy_file_overrides_rule(tmp_path):
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"os_compute_api:os-remote-consoles": "role:console"'])
    )

    assert allowed(enforcer, make_context(roles=("member",)), "os_compute_api:os-remote-consoles") is False
    assert allowed(enforcer, make_context(roles=("console",)), "os_compute_api:os-remote-consoles") is True


def test_policy_file_overrides_base_rule(tmp_path):
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"context_is_admin": "role:cloud-admin"'])
    )

    assert allowed(enforcer, make_context(roles=("admin",)), "os_compute_api:os-console-auth-tokens") is False
    assert allowed(
        enforcer, make_context(roles=("cloud-admin",)), "os_compute_api:os-console-auth-tokens"
    ) is True


def test_is_admin_follows_context_is_admin(tmp_path):
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"context_is_admin": "role:cloud-admin"'])
    )

    assert policy.is_admin(enforcer, make_context(roles=("cloud-admin",))) is True
    assert policy.is_admin(enforcer, make_context(roles=("member",))) is False


def test_policy_file_not_reread_when_unchanged(tmp_path, monkeypatch):
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"os_compute_api:os-remote-consoles": "role:console"'])
    )
    reads = []
    original = enforcer._load_policy_file

    def counting_load(path, force_reload, overwrite=True):
        changed = original(path, force_reload, overwrite)
        reads.append(changed)
        return changed

    monkeypatch.setattr(enforcer, "_load_policy_file", counting_load)
    for _ in range(5):
        allowed(enforcer, make_context(roles=("console",)), "os_compute_api:os-remote-consoles")

    assert not any(reads)


class FakeClock:
    """Monotonic seconds that move only when a test advances them."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def rewrite_policy_file(path, line):
    """Replace the policy file and move its modification time forward, as an edit would."""
    old_mtime = path.stat().st_mtime
    path.write_text(line + "\n")
    os.utime(path, (old_mtime + 10, old_mtime + 10))


def test_changed_policy_file_applies_after_interval(tmp_path):
    clock = FakeClock()
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"os_compute_api:os-remote-consoles": "role:console"']), clock=clock
    )
    console_user = make_context(roles=("console",))
    assert allowed(enforcer, console_user, "os_compute_api:os-remote-consoles") is True

    rewrite_policy_file(tmp_path / "policy.yaml", '"os_compute_api:os-remote-consoles": "role:other"')
    clock.now += policy.RULES_CHECK_INTERVAL_SECONDS / 2
    assert allowed(enforcer, console_user, "os_compute_api:os-remote-consoles") is True

    clock.now += policy.RULES_CHECK_INTERVAL_SECONDS
    assert allowed(enforcer, console_user, "os_compute_api:os-remote-consoles") is False
    assert allowed(
        enforcer, make_context(roles=("other",)), "os_compute_api:os-remote-consoles"
    ) is True


def test_policy_files_looked_up_once_per_interval(tmp_path, monkeypatch):
    clock = FakeClock()
    enforcer = policy.create_enforcer(make_conf(tmp_path), clock=clock)
    lookups = []
    original = enforcer._get_policy_path

    def counting_lookup(path):
        lookups.append(path)
        return original(path)

    monkeypatch.setattr(enforcer, "_get_policy_path", counting_lookup)
    for _ in range(5):
        policy.is_admin(enforcer, make_context())
    assert lookups == []

    clock.now += policy.RULES_CHECK_INTERVAL_SECONDS
    policy.is_admin(enforcer, make_context())
    # Neither the default policy.yaml nor policy.d exists, so oslo.policy looks for both again.
    assert lookups == ["policy.yaml", "policy.d"]


@oslo_policy.register("test_counting")
class CountingCheck(oslo_policy.Check):
    """A check with a side effect: it counts its calls, so its outcome must not be reused."""

    calls = 0

    def __call__(self, target, creds, enforcer):
        type(self).calls += 1
        return True


def test_outcome_of_custom_check_not_reused(tmp_path):
    enforcer = policy.create_enforcer(
        make_conf(tmp_path, ['"os_compute_api:os-remote-consoles": "test_counting:x"'])
    )
    before = CountingCheck.calls
    for _ in range(3):
        allowed(enforcer, make_context(), "os_compute_api:os-remote-consoles")

    assert CountingCheck.calls - before == 3


def test_outcome_follows_credentials(enforcer):
    rule = "os_compute_api:os-remote-consoles"

    assert allowed(enforcer, make_context(roles=("member",)), rule) is True
    assert allowed(enforcer, make_context(roles=("reader",)), rule) is False
    assert allowed(enforcer, make_context(roles=("member",)), rule, OTHER_PROJECT) is False
    assert allowed(enforcer, make_context(roles=("member",)), rule) is True
