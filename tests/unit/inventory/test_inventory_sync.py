"""Syncing an inventory into a real SQLite database: create, update, delete, conflicts, dry run."""

import pytest
import sqlalchemy as sa

from rdpconsole import inventory
from rdpconsole.db import api as db_api
from rdpconsole.db import models
from rdpconsole.domain import consoles
from rdpconsole.domain import servers

ID_1 = "00000000-0000-4000-8000-000000000001"
ID_2 = "00000000-0000-4000-8000-000000000002"
ID_3 = "00000000-0000-4000-8000-000000000003"


@pytest.fixture
def database(tmp_path):
    database = db_api.Database(f"sqlite:///{tmp_path}/inventory.sqlite")
    database.upgrade()
    yield database
    database.dispose()


def make_inventory(scope, *entries):
    built = []
    for line, entry in enumerate(entries, start=3):
        values = {"name": "win", "project_id": "p1", "user_id": "u1", "console_host": "192.0.2.10",
                  "compute_host": "hv-01"}
        values.update(entry)
        built.append(inventory.build_server(values, line=line))
    return inventory.Inventory(scope=scope, servers=tuple(built), path="inv.yaml")


def stored(database):
    with database.sessionmaker() as session:
        rows = session.scalars(sa.select(models.Server).order_by(models.Server.uuid))
        return {row.uuid: row for row in rows}


def issue_token(database, uuid):
    server = servers.ServerRepository(database.sessionmaker).get(uuid)
    service = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/")
    return service.authorize(server, "rdp-html5")


def token_count(database, uuid):
    with database.sessionmaker() as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(models.ConsoleAuthToken)
            .where(models.ConsoleAuthToken.instance_uuid == uuid)
        )


def test_sync_creates_servers(database):
    result = inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_2}))
    assert [change.uuid for change in result.created] == [ID_1, ID_2]
    assert set(stored(database)) == {ID_1, ID_2}


def test_sync_sets_scope(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    assert stored(database)[ID_1].inventory_scope == "lab"


def test_sync_stores_fields(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory(
        "lab", {"id": ID_1, "console_port": 2179, "vm_id": "vm-1", "metadata": {"a": "b"}}))
    row = stored(database)[ID_1]
    assert (row.console_port, row.vm_id, row.host, row.metadata_) == (2179, "vm-1", "hv-01", {"a": "b"})


def test_sync_twice_changes_nothing(database):
    lab = make_inventory("lab", {"id": ID_1}, {"id": ID_2})
    inventory.sync_inventory(database.sessionmaker, lab)
    result = inventory.sync_inventory(database.sessionmaker, lab)
    assert result.changed == 0
    assert result.unchanged == 2


def test_sync_updates_changed_fields(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    result = inventory.sync_inventory(
        database.sessionmaker, make_inventory("lab", {"id": ID_1, "status": "SHUTOFF", "name": "win-9"}))
    changes = {(change.field, change.old, change.new) for change in result.updated[0].changes}
    assert changes == {("status", "ACTIVE", "SHUTOFF"), ("name", "win", "win-9")}
    assert stored(database)[ID_1].status == "SHUTOFF"


def test_sync_update_reports_file_names(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    result = inventory.sync_inventory(
        database.sessionmaker, make_inventory("lab", {"id": ID_1, "compute_host": None}))
    assert [change.field for change in result.updated[0].changes] == ["compute_host"]


def test_sync_deletes_missing_servers(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_2}))
    result = inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_2}))
    assert [change.uuid for change in result.deleted] == [ID_1]
    assert set(stored(database)) == {ID_2}


def test_sync_empty_list_deletes_scope(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab"))
    assert stored(database) == {}


def test_sync_delete_removes_tokens(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    issue_token(database, ID_1)
    result = inventory.sync_inventory(database.sessionmaker, make_inventory("lab"))
    assert result.deleted[0].tokens_deleted == 1
    assert token_count(database, ID_1) == 0


def test_sync_endpoint_change_removes_tokens(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    issue_token(database, ID_1)
    result = inventory.sync_inventory(
        database.sessionmaker, make_inventory("lab", {"id": ID_1, "console_port": 2179}))
    assert result.updated[0].tokens_deleted == 1
    assert token_count(database, ID_1) == 0


def test_sync_other_change_keeps_tokens(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    issue_token(database, ID_1)
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1, "name": "renamed"}))
    assert token_count(database, ID_1) == 1


def test_sync_leaves_other_scope(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("other", {"id": ID_1}))
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_2}))
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab"))
    assert set(stored(database)) == {ID_1}


def test_sync_leaves_manual_servers(database):
    servers.ServerRepository(database.sessionmaker).create(
        uuid=ID_3, name="manual", project_id="p1", user_id="u1", console_host="192.0.2.3")
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab"))
    assert set(stored(database)) == {ID_3}


def test_sync_rejects_manual_server_id(database):
    servers.ServerRepository(database.sessionmaker).create(
        uuid=ID_3, name="manual", project_id="p1", user_id="u1", console_host="192.0.2.3")
    with pytest.raises(inventory.InventoryConflict) as caught:
        inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_3}))
    assert caught.value.problems[0].line == 4
    assert "rdpconsole server create" in caught.value.problems[0].message


def test_sync_conflict_changes_nothing(database):
    servers.ServerRepository(database.sessionmaker).create(
        uuid=ID_3, name="manual", project_id="p1", user_id="u1", console_host="192.0.2.3")
    with pytest.raises(inventory.InventoryConflict):
        inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_3}))
    assert set(stored(database)) == {ID_3}
    assert stored(database)[ID_3].inventory_scope is None


def test_sync_rejects_other_scope_id(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("other", {"id": ID_1}))
    with pytest.raises(inventory.InventoryConflict) as caught:
        inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    assert "belongs to inventory scope 'other'" in caught.value.lines()[0]
    assert caught.value.lines()[0].startswith("inv.yaml:3: ")


def test_sync_conflict_keeps_deletions_undone(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_2}))
    inventory.sync_inventory(database.sessionmaker, make_inventory("other", {"id": ID_1}))
    with pytest.raises(inventory.InventoryConflict):
        inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}))
    assert set(stored(database)) == {ID_1, ID_2}


def test_dry_run_reports_changes(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_2}))
    result = inventory.sync_inventory(
        database.sessionmaker,
        make_inventory("lab", {"id": ID_2, "status": "ERROR"}, {"id": ID_3}),
        dry_run=True,
    )
    assert ([c.uuid for c in result.created], [c.uuid for c in result.updated],
            [c.uuid for c in result.deleted]) == ([ID_3], [ID_2], [ID_1])


def test_dry_run_changes_nothing(database):
    inventory.sync_inventory(database.sessionmaker, make_inventory("lab", {"id": ID_1}, {"id": ID_2}))
    issue_token(database, ID_1)
    inventory.sync_inventory(
        database.sessionmaker,
        make_inventory("lab", {"id": ID_2, "status": "ERROR"}, {"id": ID_3}),
        dry_run=True,
    )
    rows = stored(database)
    assert set(rows) == {ID_1, ID_2}
    assert rows[ID_2].status == "ACTIVE"
    assert token_count(database, ID_1) == 1
