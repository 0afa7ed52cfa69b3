"""The 'serve', 'api' and 'gateway' subcommands: run the services."""

import importlib.metadata
import logging

import sqlalchemy

from rdpconsole import service
from rdpconsole.cmd import common
from rdpconsole.conf import loading
from rdpconsole.db import api as db_api
from rdpconsole.db import migration

LOG = logging.getLogger(__name__)


def register(subparsers, parent):
    serve = subparsers.add_parser(
        "serve",
        parents=[parent],
        help="Run the Compute API and the console gateway.",
        description="Run the Compute API ([api] listen and port) and the console "
        "gateway ([gateway] listen and port) until SIGTERM or SIGINT. If the "
        "gateway cannot be loaded, only the API runs and a warning is logged. "
        "SQLite databases are upgraded on start; others need 'rdpconsole db upgrade'.",
    )
    serve.set_defaults(func=run_serve, prog_name=serve.prog)

    api = subparsers.add_parser(
        "api",
        parents=[parent],
        help="Run the Compute API only.",
        description="Run the Compute API ([api] listen, port and workers) until "
        "SIGTERM or SIGINT.",
    )
    api.set_defaults(func=run_api, prog_name=api.prog)

    gateway = subparsers.add_parser(
        "gateway",
        parents=[parent],
        help="Run the console gateway only.",
        description="Run the console gateway ([gateway] listen and port) until "
        "SIGTERM or SIGINT.",
    )
    gateway.set_defaults(func=run_gateway, prog_name=gateway.prog)


def run_serve(args):
    return _run(args, api=True, gateway=True)


def run_api(args):
    return _run(args, api=True, gateway=False)


def run_gateway(args):
    return _run(args, api=False, gateway=True)


def _run(args, api, gateway):
    conf = common.load_config(args)
    LOG.info("Starting rdpconsole %s with configuration files: %s", _version(),
             ", ".join(args.resolved_config_files) or "none (defaults)")
    database = common.open_database(conf, prepare=False)
    try:
        before = migration.current_revision(database.engine)
        database.ensure_ready()
        after = migration.current_revision(database.engine)
    except db_api.DatabaseNotReady as error:
        database.dispose()
        raise common.CommandError(str(error)) from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as error:
        database.dispose()
        raise common.CommandError(common.describe_database_error(error)) from None

    if before != after:
        LOG.info("Upgraded the database schema from revision %s to %s", before or "none", after)

    try:
        return service.serve(
            conf,
            args.resolved_config_files,
            api=api,
            gateway=gateway,
            database=database,
        )
    except service.ServiceError as error:
        database.dispose()
        raise common.CommandError(str(error)) from None
    except loading.ConfigurationError as error:
        database.dispose()
        raise common.CommandError(str(error), common.EXIT_USAGE) from None


def _version():
    try:
        return importlib.metadata.version("rdpconsole")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
