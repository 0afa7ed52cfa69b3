"""Helpers shared by the Compute API tests: configuration, clock, application and headers."""

import sqlalchemy as sa
from oslo_config import cfg
from starlette.testclient import TestClient

from rdpconsole.api import app as app_module
from rdpconsole.conf import loading
from rdpconsole.conf import opts as conf_opts
from rdpconsole.db import api as db_api
from rdpconsole.db import models
from rdpconsole.domain import servers as servers_module

START_TIME = 1_700_000_000.0  # Unix seconds, 2023-11-14

# Project ids are hexadecimal so that they can appear in URLs: Nova's router
# only accepts [0-9a-f-]+ as a project segment.
PROJECT = "a1b2c3"
OTHER_PROJECT = "d4e5f6"

ADMIN = {"X-Auth-Token": "admin:admin"}


def auth(user="alice", project=PROJECT):
    return {"X-Auth-Token": f"{user}:{project}"}


def at_version(version, headers=None, legacy=False):
    result = dict(headers or auth())
    if legacy:
        result["X-OpenStack-Nova-API-Version"] = version
    else:
        result["OpenStack-API-Version"] = f"compute {version}"
    return result


class FakeClock:
    """A clock in Unix seconds that moves only when a test advances it."""

    def __init__(self, now=START_TIME):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def write_config(path, options):
    """Write ``{"group": {"option": value}}`` as an INI file."""
    lines = []
    for group, values in options.items():
        lines.append(f"[{group}]")
        for name, value in values.items():
            lines.append(f"{name} = {value}")
    path.write_text("\n".join(lines) + "\n")


def load_conf(tmp_path, options=None):
    conf = cfg.ConfigOpts()
    for group, group_opts in conf_opts.list_opts():
        conf.register_opts(group_opts, group=None if group == "DEFAULT" else group)
    merged = {"DEFAULT": {"state_path": str(tmp_path)}, "consoleauth": {"purge_interval": 0}}
    for group, values in (options or {}).items():
        merged.setdefault(group, {}).update(values)
    config_file = tmp_path / "rdpconsole.conf"
    write_config(config_file, merged)
    loading.load(conf, [str(config_file)])
    return conf


class Api:
    """One application under test with its database, clock and client."""

    def __init__(self, tmp_path, options=None):
        self.clock = FakeClock()
        self.conf = load_conf(tmp_path, options)
        self.database = db_api.Database(f"sqlite:///{tmp_path / 'rdpconsole.sqlite'}")
        self.database.upgrade()
        self.servers = servers_module.ServerRepository(self.database.sessionmaker)
        self.app = app_module.create_app(self.conf, database=self.database, clock=self.clock)
        self.client = TestClient(self.app)

    def create_server(self, **fields):
        fields.setdefault("name", "web1")
        fields.setdefault("project_id", PROJECT)
        fields.setdefault("user_id", "alice")
        fields.setdefault("console_host", "10.0.0.5")
        fields.setdefault("console_port", 2179)
        fields.setdefault("host", "hyperv1")
        fields.setdefault("vm_id", "5e3a1b0c-0000-4000-8000-00000000a1b2")
        return self.servers.create(**fields)

    def token_count(self):
        with self.database.sessionmaker() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(models.ConsoleAuthToken))
