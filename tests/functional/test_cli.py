"""The rdpconsole command line as a real process against a real SQLite database."""

import json
import textwrap

import pytest

from rdpconsole.db import api as db_api
from rdpconsole.domain import consoles
from rdpconsole.domain import servers

SERVER_ID = "6a1f3c2e-9b8d-4e7f-a6b5-c4d3e2f1a0b9"
OTHER_ID = "6a1f3c2e-9b8d-4e7f-a6b5-c4d3e2f1a0ba"

SERVER_KEYS = [
    "id", "name", "project_id", "user_id", "status", "task_state", "compute_host", "console_host",
    "console_port", "vm_id", "metadata", "inventory_scope", "created_at", "updated_at",
]


class Cli:
    """Runs rdpconsole subcommands with one configuration file."""

    def __init__(self, run_rdpconsole, config_file, tmp_path):
        self._run = run_rdpconsole
        self.config_file = config_file
        self.tmp_path = tmp_path

    def __call__(self, *args):
        return self._run(*args, "--config-file", self.config_file)

    def json(self, *args):
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def create(self, *extra, name="win-01", project_id="p1"):
        return self.json(
            "server", "create", "--name", name, "--project-id", project_id, "--user-id", "u1",
            "--console-host", "192.0.2.10", *extra,
        )

    def database(self):
        return db_api.Database(f"sqlite:///{self.tmp_path}/state/rdpconsole.sqlite")


@pytest.fixture
def cli(make_config, run_rdpconsole, tmp_path):
    return Cli(run_rdpconsole, make_config(), tmp_path)


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# server create / show


def test_create_prints_one_json_object(cli):
    server = cli.create("--id", SERVER_ID, "--compute-host", "hv-01", "--vm-id", "vm-guid",
                        "--console-port", "2179", "--task-state", "spawning", "--property", "a=b",
                        "--property", "c=d=e")
    created_at = server.pop("created_at")
    assert server == {
        "id": SERVER_ID,
        "name": "win-01",
        "project_id": "p1",
        "user_id": "u1",
        "status": "ACTIVE",
        "task_state": "spawning",
        "compute_host": "hv-01",
        "console_host": "192.0.2.10",
        "console_port": 2179,
        "vm_id": "vm-guid",
        "metadata": {"a": "b", "c": "d=e"},
        "inventory_scope": None,
        "updated_at": None,
    }
    assert created_at.endswith("Z")


def test_create_key_order(cli):
    assert list(cli.create()) == SERVER_KEYS


def test_create_defaults(cli):
    server = cli.create()
    assert (server["status"], server["console_port"], server["compute_host"]) == ("ACTIVE", 3389, None)


def test_create_random_uuid(cli):
    assert len(cli.create()["id"]) == 36


def test_show_by_id(cli):
    created = cli.create("--id", SERVER_ID)
    assert cli.json("server", "show", SERVER_ID) == created


def test_show_by_name(cli):
    created = cli.create(name="unique-name")
    assert cli.json("server", "show", "unique-name")["id"] == created["id"]


def test_show_ambiguous_name(cli):
    cli.create(name="twin")
    cli.create(name="twin")
    result = cli("server", "show", "twin")
    assert result.returncode == 1
    assert "2 servers are named 'twin'; use the server ID instead" in one_error_line(result)


def test_show_unknown_server(cli):
    result = cli("server", "show", SERVER_ID)
    assert result.returncode == 1
    assert SERVER_ID in one_error_line(result)


@pytest.mark.parametrize("option, value, expected", [
    ("--console-host", "bad_host", "Invalid console_host 'bad_host'"),
    ("--console-port", "70000", "Invalid console_port 70000"),
    ("--console-port", "abc", "invalid int value: 'abc'"),
    ("--status", "RUNNING", "Invalid status 'RUNNING'"),
    ("--id", "not-a-uuid", "Invalid id 'not-a-uuid': expected a UUID"),
    ("--property", "novalue", "invalid KEY=VALUE property value: 'novalue'"),
])
def test_create_rejects_bad_value(cli, option, value, expected):
    result = cli("server", "create", "--name", "x", "--project-id", "p", "--user-id", "u",
                 "--console-host", "192.0.2.1", option, value)
    assert result.returncode == 2
    assert expected in result.stderr.strip().splitlines()[-1]


def test_create_requires_console_host(cli):
    result = cli("server", "create", "--name", "x", "--project-id", "p", "--user-id", "u")
    assert result.returncode == 2
    assert "--console-host" in result.stderr


def test_create_duplicate_id(cli):
    cli.create("--id", SERVER_ID)
    result = cli("server", "create", "--id", SERVER_ID, "--name", "x", "--project-id", "p",
                 "--user-id", "u", "--console-host", "192.0.2.1")
    assert result.returncode == 1
    assert f"A server with id {SERVER_ID} already exists." in one_error_line(result)


def test_create_prints_nothing_on_error(cli):
    result = cli("server", "create", "--name", "x", "--project-id", "p", "--user-id", "u",
                 "--console-host", "bad_host")
    assert result.stdout == ""


# server list


def test_list_json(cli):
    first = cli.create(name="a")
    second = cli.create(name="b")
    listed = cli.json("server", "list", "--format", "json")
    assert [server["id"] for server in listed] == [second["id"], first["id"]]


def test_list_json_empty(cli):
    assert cli.json("server", "list", "--format", "json") == []


def test_list_filters_project(cli):
    cli.create(name="a", project_id="p1")
    cli.create(name="b", project_id="p2")
    listed = cli.json("server", "list", "--format", "json", "--project-id", "p2")
    assert [server["name"] for server in listed] == ["b"]


def test_list_filters_name(cli):
    cli.create(name="web-1")
    cli.create(name="db-1")
    listed = cli.json("server", "list", "--format", "json", "--name", "^web")
    assert [server["name"] for server in listed] == ["web-1"]


def test_list_table(cli):
    created = cli.create("--compute-host", "hv-01", name="table-server")
    result = cli("server", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "Name", "Project"]
    assert created["id"] in lines[2]
    assert "192.0.2.10:3389" in lines[2]


def test_list_bad_regex(cli):
    result = cli("server", "list", "--name", "(")
    assert result.returncode == 2
    assert "Invalid --name regular expression" in one_error_line(result)


def test_list_backreference_rejected(cli):
    # The API's name filter runs on RE2, which has no backreferences; the CLI agrees.
    result = cli("server", "list", "--name", r"(a)\1")
    assert result.returncode == 2
    assert "Invalid --name regular expression" in one_error_line(result)


# server set


def test_set_changes_fields(cli):
    cli.create("--id", SERVER_ID, "--compute-host", "hv-01", "--property", "a=1")
    server = cli.json("server", "set", SERVER_ID, "--status", "shutoff", "--console-port", "3390",
                      "--task-state", "migrating", "--property", "b=2")
    assert (server["status"], server["console_port"], server["task_state"]) == ("SHUTOFF", 3390, "migrating")
    assert server["metadata"] == {"a": "1", "b": "2"}
    assert server["updated_at"] is not None


def test_set_clears_fields(cli):
    cli.create("--id", SERVER_ID, "--compute-host", "hv-01", "--vm-id", "vm", "--task-state", "x",
               "--property", "a=1")
    server = cli.json("server", "set", SERVER_ID, "--no-compute-host", "--no-vm-id",
                      "--no-task-state", "--no-property")
    assert (server["compute_host"], server["vm_id"], server["task_state"], server["metadata"]) == (
        None, None, None, {})


def test_set_is_stored(cli):
    cli.create("--id", SERVER_ID)
    cli.json("server", "set", SERVER_ID, "--name", "renamed")
    assert cli.json("server", "show", SERVER_ID)["name"] == "renamed"


def test_set_conflicting_options(cli):
    cli.create("--id", SERVER_ID)
    result = cli("server", "set", SERVER_ID, "--vm-id", "x", "--no-vm-id")
    assert result.returncode == 2
    assert "--vm-id and --no-vm-id cannot be used together" in one_error_line(result)


def test_set_nothing(cli):
    cli.create("--id", SERVER_ID)
    result = cli("server", "set", SERVER_ID)
    assert result.returncode == 2
    assert "nothing to change" in one_error_line(result)


def test_set_bad_host(cli):
    cli.create("--id", SERVER_ID)
    result = cli("server", "set", SERVER_ID, "--console-host", "bad host")
    assert result.returncode == 2
    assert "Invalid console_host 'bad host'" in one_error_line(result)


# server delete


def test_delete_several(cli):
    first = cli.create(name="a")
    second = cli.create(name="b")
    result = cli("server", "delete", first["id"], second["id"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Deleted server {first['id']} (a) and 0 console tokens",
        f"Deleted server {second['id']} (b) and 0 console tokens",
    ]
    assert cli.json("server", "list", "--format", "json") == []


def test_delete_removes_tokens(cli):
    cli.create("--id", SERVER_ID, "--compute-host", "hv-01")
    database = cli.database()
    try:
        server = servers.ServerRepository(database.sessionmaker).get(SERVER_ID)
        service = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/")
        service.authorize(server, "rdp-html5")
        service.authorize(server, "rdp-html5")
    finally:
        database.dispose()

    result = cli("server", "delete", SERVER_ID)

    assert result.stdout.strip() == f"Deleted server {SERVER_ID} (win-01) and 2 console tokens"


def test_delete_unknown_reports_failure(cli):
    created = cli.create()
    result = cli("server", "delete", created["id"], OTHER_ID)
    assert result.returncode == 1
    assert f"Deleted server {created['id']}" in result.stdout
    assert f"No server with a name or ID of '{OTHER_ID}' exists" in result.stderr
    assert "1 of 2 servers could not be deleted" in result.stderr


# db, tokens and configuration


def test_db_upgrade(cli):
    result = cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Database upgraded from revision none to ")


def test_db_upgrade_twice(cli):
    cli("db", "upgrade")
    result = cli("db", "upgrade")
    assert result.stdout.startswith("Database already at revision ")


def test_db_version_before_upgrade(cli):
    result = cli("db", "version")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "current: none"


def test_db_version_after_upgrade(cli):
    cli("db", "upgrade")
    result = cli("db", "version")
    current, head = result.stdout.splitlines()[:2]
    assert result.returncode == 0
    assert current.replace("current:", "head:") == head


def test_tokens_purge(cli):
    cli.create("--id", SERVER_ID, "--compute-host", "hv-01")
    database = cli.database()
    try:
        server = servers.ServerRepository(database.sessionmaker).get(SERVER_ID)
        expired = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/",
                                          token_ttl=10, clock=lambda: 1000.0)
        expired.authorize(server, "rdp-html5")
        expired.authorize(server, "rdp-html5")
        consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/").authorize(
            server, "rdp-html5")
    finally:
        database.dispose()

    first = cli("tokens", "purge")
    second = cli("tokens", "purge")

    assert first.stdout.strip() == "Deleted 2 expired console tokens"
    assert second.stdout.strip() == "Deleted 0 expired console tokens"


def test_config_error_is_one_line(make_config, run_rdpconsole):
    config_file = make_config({"consoleauth": {"token_ttl": "-5"}})
    result = run_rdpconsole("server", "list", "--config-file", config_file)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"rdpconsole server list: error: Invalid value '-5' for option [consoleauth] token_ttl "
        f"in {config_file}: expected an integer of at least 0."
    )


def test_config_syntax_error_is_one_line(tmp_path, run_rdpconsole):
    config_file = tmp_path / "broken.conf"
    config_file.write_text("[api\nport = 1\n", encoding="utf-8")
    result = run_rdpconsole("db", "upgrade", "--config-file", config_file)
    assert result.returncode == 2
    assert str(config_file) in one_error_line(result)


def test_bad_database_url_is_one_line(make_config, run_rdpconsole):
    config_file = make_config({"database": {"connection": "nosuchdb://x"}})
    result = run_rdpconsole("server", "list", "--config-file", config_file)
    assert result.returncode == 2
    assert "[database] connection" in one_error_line(result)


def test_help_everywhere(run_rdpconsole):
    commands = [
        [], ["serve"], ["api"], ["gateway"], ["db"], ["db", "upgrade"], ["db", "version"],
        ["server"], ["server", "create"], ["server", "list"], ["server", "show"], ["server", "set"],
        ["server", "delete"], ["inventory"], ["inventory", "sync"], ["tokens"], ["tokens", "purge"],
        ["demo"],
    ]
    failed = [command for command in commands if run_rdpconsole(*command, "--help").returncode != 0]
    assert failed == []


def test_unknown_command_is_usage_error(run_rdpconsole):
    assert run_rdpconsole("frobnicate").returncode == 2


# inventory sync

INVENTORY = f"""\
scope: lab
servers:
  - id: {SERVER_ID}
    name: win-01
    project_id: p1
    user_id: u1
    console_host: 192.0.2.10
    compute_host: hv-01
  - id: {OTHER_ID}
    name: win-02
    project_id: p1
    user_id: u1
    console_host: 192.0.2.11
"""


def write_inventory(tmp_path, text, name="inventory.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_inventory_sync_creates(cli, tmp_path):
    result = cli("inventory", "sync", write_inventory(tmp_path, INVENTORY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Created server {SERVER_ID} (win-01)",
        f"Created server {OTHER_ID} (win-02)",
        "Inventory scope 'lab': 2 created, 0 updated, 0 deleted, 0 unchanged",
    ]


def test_inventory_sync_sets_scope(cli, tmp_path):
    cli("inventory", "sync", write_inventory(tmp_path, INVENTORY))
    assert cli.json("server", "show", SERVER_ID)["inventory_scope"] == "lab"


def test_inventory_sync_updates_and_deletes(cli, tmp_path):
    cli("inventory", "sync", write_inventory(tmp_path, INVENTORY))
    changed = INVENTORY.split("  - id: " + OTHER_ID)[0].replace("hv-01", "hv-02")
    result = cli("inventory", "sync", write_inventory(tmp_path, changed))
    assert result.stdout.splitlines() == [
        f"Updated server {SERVER_ID} (win-01): compute_host hv-01 -> hv-02",
        f"Deleted server {OTHER_ID} (win-02) and 0 console tokens",
        "Inventory scope 'lab': 0 created, 1 updated, 1 deleted, 0 unchanged",
    ]


def test_inventory_dry_run_changes_nothing(cli, tmp_path):
    result = cli("inventory", "sync", "--dry-run", write_inventory(tmp_path, INVENTORY))
    assert result.stdout.splitlines()[0] == f"Would create server {SERVER_ID} (win-01)"
    assert result.stdout.splitlines()[-1].endswith("(dry run: nothing was changed)")
    assert cli.json("server", "list", "--format", "json") == []


def test_inventory_broken_file_rejected(cli, tmp_path):
    broken = INVENTORY.replace("192.0.2.11", "bad_host").replace("name: win-01", "name: 12")
    path = write_inventory(tmp_path, broken)
    result = cli("inventory", "sync", path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"rdpconsole inventory sync: error: {path}:4: invalid name in server #1: expected a string, "
        "found an integer; quote the value",
        f"rdpconsole inventory sync: error: {path}:13: Invalid console_host 'bad_host': expected an "
        "IPv4 address, an IPv6 address or a DNS host name (in server #2)",
        f"rdpconsole inventory sync: error: {path} rejected with 2 problems; nothing was changed",
    ]


def test_inventory_broken_file_changes_nothing(cli, tmp_path):
    cli("inventory", "sync", write_inventory(tmp_path, INVENTORY))
    before = cli.json("server", "list", "--format", "json")
    broken = INVENTORY.replace("hv-01", "hv-02") + "  - name: incomplete\n"
    cli("inventory", "sync", write_inventory(tmp_path, broken))
    assert cli.json("server", "list", "--format", "json") == before


def test_inventory_conflict_with_manual_server(cli, tmp_path):
    cli.create("--id", OTHER_ID, name="manual")
    path = write_inventory(tmp_path, INVENTORY)
    result = cli("inventory", "sync", path)
    assert result.returncode == 1
    assert f"{path}:9: server id {OTHER_ID} (manual) was created with 'rdpconsole server create'" in (
        result.stderr)
    assert [server["name"] for server in cli.json("server", "list", "--format", "json")] == ["manual"]


def test_inventory_missing_file(cli, tmp_path):
    result = cli("inventory", "sync", tmp_path / "missing.yaml")
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr
