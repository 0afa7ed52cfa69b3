"""Parsing inventory files: valid content, defaults, and every kind of rejected file with its line."""

import textwrap

import pytest

from rdpconsole import inventory

SERVER_ID = "3f0d8a36-5d29-4c61-9b9c-0d5b4d0a8f10"
OTHER_ID = "3f0d8a36-5d29-4c61-9b9c-0d5b4d0a8f11"

VALID = f"""\
scope: lab
servers:
  - id: {SERVER_ID}
    name: win-01
    project_id: p1
    user_id: u1
    console_host: 192.0.2.10
    console_port: 2179
    vm_id: 2d3c1f00-0000-4000-8000-000000000001
    status: shutoff
    compute_host: hv-01
    task_state: null
    metadata:
      role: lab
  - id: {OTHER_ID}
    name: win-02
    project_id: p1
    user_id: u1
    console_host: win-02.example.org
"""


def parse(text):
    return inventory.parse_inventory(textwrap.dedent(text), "inv.yaml")


def problems_of(text):
    with pytest.raises(inventory.InventoryError) as caught:
        parse(text)
    return [(problem.line, problem.message) for problem in caught.value.problems]


def single_problem(text):
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def server_entry(**overrides):
    """Return the YAML text of a file with one valid server, some keys replaced or removed."""
    fields = {
        "id": SERVER_ID,
        "name": "win-01",
        "project_id": "p1",
        "user_id": "u1",
        "console_host": "192.0.2.10",
    }
    fields.update(overrides)
    lines = ["scope: lab", "servers:"]
    first = True
    for key, value in fields.items():
        if value is None:
            continue
        prefix = "  - " if first else "    "
        lines.append(f"{prefix}{key}: {value}")
        first = False
    return "\n".join(lines) + "\n"


def test_parse_scope():
    assert parse(VALID).scope == "lab"


def test_parse_server_count():
    assert len(parse(VALID).servers) == 2


def test_parse_fields():
    server = parse(VALID).servers[0]
    assert server.fields == {
        "uuid": SERVER_ID,
        "name": "win-01",
        "project_id": "p1",
        "user_id": "u1",
        "console_host": "192.0.2.10",
        "console_port": 2179,
        "vm_id": "2d3c1f00-0000-4000-8000-000000000001",
        "status": "SHUTOFF",
        "host": "hv-01",
        "task_state": None,
        "metadata_": {"role": "lab"},
    }


def test_parse_defaults():
    server = parse(VALID).servers[1]
    assert server.fields["console_port"] == 3389
    assert server.fields["status"] == "ACTIVE"
    assert server.fields["host"] is None
    assert server.fields["vm_id"] is None
    assert server.fields["task_state"] is None
    assert server.fields["metadata_"] == {}


def test_parse_server_line():
    assert parse(VALID).servers[1].line == 15


def test_parse_empty_server_list():
    assert parse("scope: lab\nservers: []\n").servers == ()


def test_parse_normalizes_uuid_case():
    text = server_entry(id=SERVER_ID.upper())
    assert parse(text).servers[0].uuid == SERVER_ID


def test_error_lines_name_the_file():
    with pytest.raises(inventory.InventoryError) as caught:
        parse(server_entry(console_port=0))
    assert caught.value.lines() == [
        "inv.yaml:8: Invalid console_port 0: expected a TCP port number from 1 to 65535 (in server #1)"
    ]


def test_reject_yaml_syntax():
    line, message = single_problem("scope: lab\nservers:\n  - id: [1, 2\n")
    assert line == 4
    assert message.startswith("invalid YAML:")


def test_reject_bad_indentation():
    line, message = single_problem("scope: lab\nservers:\n  - id: x\n   name: y\n")
    assert line == 4
    assert message.startswith("invalid YAML:")


def test_reject_several_documents():
    line, message = single_problem("scope: a\nservers: []\n---\nscope: b\nservers: []\n")
    assert line == 3
    assert "single document" in message


def test_reject_empty_file():
    assert single_problem("") == (
        None, "the file is empty: expected a mapping with 'scope' and 'servers'"
    )


def test_reject_top_level_list():
    line, message = single_problem("- scope: lab\n")
    assert line == 1
    assert "expected a mapping" in message


def test_reject_unknown_top_level_key():
    line, message = single_problem("scope: lab\nservers: []\nzone: a\n")
    assert line == 3
    assert "unknown key 'zone'" in message


def test_reject_missing_scope():
    line, message = single_problem("servers: []\n")
    assert line == 1
    assert "missing required key 'scope'" in message


def test_reject_missing_servers():
    line, message = single_problem("scope: lab\n")
    assert line == 1
    assert "missing required key 'servers'" in message


def test_reject_null_servers():
    line, message = single_problem("scope: lab\nservers:\n")
    assert line == 2
    assert "servers: []" in message


def test_reject_scope_not_string():
    line, message = single_problem("scope: 12\nservers: []\n")
    assert line == 1
    assert "invalid scope" in message


def test_reject_servers_not_list():
    line, message = single_problem("scope: lab\nservers: {a: 1}\n")
    assert line == 2
    assert "expected a list, found a mapping" in message


def test_reject_server_not_mapping():
    line, message = single_problem("scope: lab\nservers:\n  - just-a-name\n")
    assert line == 3
    assert "server #1: expected a mapping, found a string" in message


def test_reject_unknown_server_key():
    line, message = single_problem(server_entry(zone="a"))
    assert line == 8
    assert "unknown key 'zone' in server #1" in message


def test_reject_duplicate_key():
    text = server_entry() + "    name: again\n"
    line, message = single_problem(text)
    assert line == 8
    assert "duplicate key 'name' in server #1 (first on line 4)" in message


def test_reject_duplicate_id():
    second = server_entry().split("servers:\n", 1)[1]
    text = server_entry() + second
    line, message = single_problem(text)
    assert line == 8
    assert f"duplicate server id {SERVER_ID} (first on line 3)" in message


def test_reject_duplicate_id_in_other_case():
    second = server_entry(id=SERVER_ID.upper()).split("servers:\n", 1)[1]
    line, message = single_problem(server_entry() + second)
    assert line == 8
    assert "duplicate server id" in message


@pytest.mark.parametrize("key", ["id", "name", "project_id", "user_id", "console_host"])
def test_reject_missing_server_key(key):
    line, message = single_problem(server_entry(**{key: None}))
    assert line == 3
    assert message == f"missing required key {key!r} in server #1"


def test_reject_id_not_uuid():
    line, message = single_problem(server_entry(id="win-01"))
    assert line == 3
    assert "Invalid id 'win-01': expected a UUID" in message


def test_reject_integer_project_id():
    line, message = single_problem(server_entry(project_id="0123"))
    assert line == 5
    assert "expected a string, found an integer; quote the value" in message


def test_reject_empty_name():
    line, message = single_problem(server_entry(name='""'))
    assert line == 4
    assert "Invalid name" in message


def test_reject_invalid_host():
    line, message = single_problem(server_entry(console_host="bad_host"))
    assert line == 7
    assert "Invalid console_host 'bad_host'" in message


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_reject_port_out_of_range(port):
    line, message = single_problem(server_entry(console_port=port))
    assert line == 8
    assert "expected a TCP port number from 1 to 65535" in message


@pytest.mark.parametrize("port, found", [('"3389"', "a string"), ("true", "a boolean"), ("3389.5", "a number")])
def test_reject_port_wrong_type(port, found):
    line, message = single_problem(server_entry(console_port=port))
    assert line == 8
    assert f"found {found}" in message


def test_reject_invalid_status():
    line, message = single_problem(server_entry(status="RUNNING"))
    assert line == 8
    assert "Invalid status 'RUNNING'" in message


def test_reject_metadata_integer_value():
    text = server_entry() + "    metadata:\n      rank: 3\n"
    line, message = single_problem(text)
    assert line == 9
    assert "invalid metadata value for 'rank'" in message


def test_reject_metadata_list():
    line, message = single_problem(server_entry(metadata="[a, b]"))
    assert line == 8
    assert "invalid metadata" in message


def test_reject_reports_every_problem():
    text = server_entry(console_host="bad_host", status="RUNNING", zone="a")
    lines = [line for line, _message in problems_of(text)]
    assert lines == [7, 8, 9]


def test_reject_problems_sorted_by_line():
    text = "servers:\n  - name: x\nscope: 12\n"
    lines = [line for line, _message in problems_of(text)]
    assert lines == sorted(lines)


def test_load_missing_file(tmp_path):
    with pytest.raises(inventory.InventoryError) as caught:
        inventory.load_inventory(str(tmp_path / "missing.yaml"))
    assert "cannot read the file" in caught.value.lines()[0]


def test_load_file(tmp_path):
    path = tmp_path / "inv.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert inventory.load_inventory(str(path)).path == str(path)
