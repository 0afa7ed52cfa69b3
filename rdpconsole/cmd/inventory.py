"""The 'inventory' subcommands: apply a declarative inventory file."""

import sys

from rdpconsole import inventory as inventory_module
from rdpconsole.cmd import common


def register(subparsers, parent):
    inventory = subparsers.add_parser(
        "inventory",
        help="Manage servers from a declarative inventory file.",
        description="Manage the servers of an inventory scope from a YAML file.",
    )
    commands = inventory.add_subparsers(dest="inventory_command", metavar="COMMAND", required=True)

    sync = commands.add_parser(
        "sync",
        parents=[parent],
        help="Make the servers of the file's scope match the file.",
        description="Create, update and delete servers, in one transaction, so that "
        "the servers whose inventory scope is the file's 'scope' match the "
        "file exactly, and print each change. Deleting a server deletes its "
        "console tokens; so does changing its console_host, console_port or "
        "vm_id. Servers of other scopes and servers made with 'rdpconsole "
        "server create' are never changed. A file with any problem is "
        "rejected whole, with the line of each problem, and nothing changes.",
    )
    sync.add_argument("file", metavar="FILE", help="Inventory file (YAML).")
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="Print what the sync would change and change nothing.",
    )
    sync.set_defaults(func=run_sync, prog_name=sync.prog)


def run_sync(args):
    conf = common.load_config(args)
    try:
        inventory = inventory_module.load_inventory(args.file)
    except inventory_module.InventoryError as error:
        _print_problems(args, error)
        raise common.CommandError(_rejected_message(error), common.EXIT_USAGE) from None

    database = common.open_database(conf)
    try:
        result = inventory_module.sync_inventory(database.sessionmaker, inventory, dry_run=args.dry_run)
    except inventory_module.InventoryConflict as error:
        _print_problems(args, error)
        raise common.CommandError(_rejected_message(error)) from None
    finally:
        database.dispose()

    print_result(result)
    return common.EXIT_OK


def _print_problems(args, error):
    for line in error.lines():
        print(f"{args.prog_name}: error: {line}", file=sys.stderr)


def _rejected_message(error):
    count = len(error.problems)
    return (f"{error.path} rejected with {count} problem{'' if count == 1 else 's'}; "
            "nothing was changed")


def print_result(result):
    """Print one line per created, updated and deleted server, then a total line."""
    verb = {"created": "Would create", "updated": "Would update", "deleted": "Would delete"} \
        if result.dry_run else {"created": "Created", "updated": "Updated", "deleted": "Deleted"}

    for change in result.created:
        print(f"{verb['created']} server {change.uuid} ({change.name})")
    for change in result.updated:
        details = ", ".join(
            f"{field.field} {_show(field.old)} -> {_show(field.new)}" for field in change.changes
        )
        line = f"{verb['updated']} server {change.uuid} ({change.name}): {details}"
        if change.tokens_deleted:
            line += f"; {_tokens(change.tokens_deleted)} deleted"
        print(line)
    for change in result.deleted:
        print(f"{verb['deleted']} server {change.uuid} ({change.name}) and "
              f"{_tokens(change.tokens_deleted)}")

    summary = (f"Inventory scope {result.scope!r}: {len(result.created)} created, "
               f"{len(result.updated)} updated, {len(result.deleted)} deleted, "
               f"{result.unchanged} unchanged")
    if result.dry_run:
        summary += " (dry run: nothing was changed)"
    print(summary)


def _tokens(count):
    return f"{count} console token{'' if count == 1 else 's'}"


def _show(value):
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {item}" for key, item in sorted(value.items())) + "}"
    return str(value)
