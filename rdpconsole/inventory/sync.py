"""Make the stored servers of one inventory scope match an inventory exactly.

One transaction creates, updates and deletes servers, so a failed sync
changes nothing. Servers of other scopes and servers created by hand (no
scope) are never changed; an inventory that claims one of their ids is
rejected.
"""

import dataclasses

import sqlalchemy as sa

from rdpconsole.db import models
from rdpconsole.inventory import parser

# Server fields an inventory sets, in the model's names, with the file's name for each.
SYNCED_FIELDS = {model_name: file_name for file_name, model_name in parser.SERVER_KEYS.items()
                 if model_name != "uuid"}
SYNCED_FIELDS["metadata_"] = SYNCED_FIELDS.pop("metadata")

# Fields that tokens copy when they are issued. When one changes, the
# server's tokens would lead to the old endpoint, so they are deleted.
CONSOLE_ENDPOINT_FIELDS = ("console_host", "console_port", "vm_id")

# Bound parameters per IN (...) query, well below SQLite's limit of 32766.
QUERY_CHUNK_SIZE = 500


@dataclasses.dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object


@dataclasses.dataclass(frozen=True)
class ServerChange:
    """A server the sync created, updated or deleted, and the console tokens it deleted with it."""

    uuid: str
    name: str
    changes: tuple = ()
    tokens_deleted: int = 0


@dataclasses.dataclass
class SyncResult:
    scope: str
    dry_run: bool
    created: list = dataclasses.field(default_factory=list)
    updated: list = dataclasses.field(default_factory=list)
    deleted: list = dataclasses.field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self):
        return len(self.created) + len(self.updated) + len(self.deleted)


class InventoryConflict(parser.InventoryError):
    """The inventory claims ids of servers that belong to another scope or were created by hand."""


def sync_inventory(sessionmaker, inventory, dry_run=False):
    """Apply ``inventory`` to the database in one transaction and return a SyncResult.

    With ``dry_run`` the same changes are made and then rolled back, so the
    result lists what a real sync would do. Raises InventoryConflict, and
    changes nothing, when an id of the file belongs to a server outside the
    file's scope.
    """
    result = SyncResult(scope=inventory.scope, dry_run=dry_run)
    with sessionmaker() as session:
        try:
            _apply(session, inventory, result)
            session.flush()
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return result


def _apply(session, inventory, result):
    stored = _load_scope(session, inventory)
    _check_conflicts(inventory, stored)

    declared_ids = set()
    for declared in inventory.servers:
        declared_ids.add(declared.uuid)
        row = stored.get(declared.uuid)
        if row is None:
            session.add(models.Server(inventory_scope=inventory.scope, **declared.fields))
            result.created.append(ServerChange(uuid=declared.uuid, name=declared.name))
            continue

        changes = _diff(row, declared.fields)
        if not changes:
            result.unchanged += 1
            continue
        for change in changes:
            setattr(row, change.field, declared.fields[change.field])
        tokens_deleted = 0
        if any(change.field in CONSOLE_ENDPOINT_FIELDS for change in changes):
            tokens_deleted = _delete_tokens(session, row.uuid)
        result.updated.append(ServerChange(
            uuid=row.uuid,
            name=declared.name,
            changes=tuple(
                FieldChange(SYNCED_FIELDS[change.field], change.old, change.new) for change in changes
            ),
            tokens_deleted=tokens_deleted,
        ))

    for uuid, row in stored.items():
        if uuid in declared_ids or row.inventory_scope != inventory.scope:
            continue
        tokens_deleted = _delete_tokens(session, uuid)
        session.delete(row)
        result.deleted.append(ServerChange(uuid=uuid, name=row.name, tokens_deleted=tokens_deleted))


def _load_scope(session, inventory):
    """Return {uuid: row} of the scope's servers and of every server whose id the file names."""
    rows = {}
    query = sa.select(models.Server).where(models.Server.inventory_scope == inventory.scope)
    for row in session.scalars(query):
        rows[row.uuid] = row

    declared = [server.uuid for server in inventory.servers]
    for start in range(0, len(declared), QUERY_CHUNK_SIZE):
        chunk = declared[start:start + QUERY_CHUNK_SIZE]
        for row in session.scalars(sa.select(models.Server).where(models.Server.uuid.in_(chunk))):
            rows[row.uuid] = row
    return rows


def _check_conflicts(inventory, stored):
    problems = []
    for declared in inventory.servers:
        row = stored.get(declared.uuid)
        if row is None or row.inventory_scope == inventory.scope:
            continue
        if row.inventory_scope is None:
            owner = ("was created with 'rdpconsole server create'; delete it with "
                     "'rdpconsole server delete' first or give this entry another id")
        else:
            owner = (f"belongs to inventory scope {row.inventory_scope!r}; remove it from that "
                     "scope's file first or give this entry another id")
        problems.append(parser.Problem(declared.line, f"server id {declared.uuid} ({row.name}) {owner}"))
    if problems:
        raise InventoryConflict(inventory.path, problems)


def _diff(row, fields):
    changes = []
    for field in SYNCED_FIELDS:
        old = getattr(row, field)
        new = fields[field]
        if field == "metadata_":
            old = dict(old or {})
        if old != new:
            changes.append(FieldChange(field, old, new))
    return changes


def _delete_tokens(session, uuid):
    result = session.execute(
        sa.delete(models.ConsoleAuthToken).where(models.ConsoleAuthToken.instance_uuid == uuid)
    )
    return result.rowcount
