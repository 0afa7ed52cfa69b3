"""The 'db' subcommands: apply and inspect schema migrations."""

from rdpconsole.cmd import common
from rdpconsole.db import migration


def register(subparsers, parent):
    db = subparsers.add_parser(
        "db",
        help="Manage the database schema.",
        description="Manage the schema of the [database] connection database.",
    )
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)

    upgrade = commands.add_parser(
        "upgrade",
        parents=[parent],
        help="Apply every pending migration.",
        description="Bring the database schema to the latest revision. Run it "
        "before starting a new version with PostgreSQL or MySQL; SQLite "
        "databases are also upgraded when a service starts.",
    )
    upgrade.set_defaults(func=run_upgrade, prog_name=upgrade.prog)

    version = commands.add_parser(
        "version",
        parents=[parent],
        help="Print the current and the latest schema revision.",
        description="Print the schema revision of the database and the latest "
        "revision this version of rdpconsole ships. Exits 1 when they differ.",
    )
    version.set_defaults(func=run_version, prog_name=version.prog)


def run_upgrade(args):
    conf = common.load_config(args)
    database = common.open_database(conf, prepare=False)
    try:
        before = migration.current_revision(database.engine)
        database.upgrade()
        after = migration.current_revision(database.engine)
    finally:
        database.dispose()
    if before == after:
        print(f"Database already at revision {after}")
    else:
        print(f"Database upgraded from revision {before or 'none'} to {after}")
    return common.EXIT_OK


def run_version(args):
    conf = common.load_config(args)
    database = common.open_database(conf, prepare=False)
    try:
        current = migration.current_revision(database.engine)
    finally:
        database.dispose()
    head = migration.head_revision()
    print(f"current: {current or 'none'}")
    print(f"head: {head}")
    if current != head:
        print("The database needs 'rdpconsole db upgrade'.")
        return common.EXIT_FAILURE
    return common.EXIT_OK
