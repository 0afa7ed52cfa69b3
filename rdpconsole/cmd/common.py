"""Helpers shared by every subcommand: configuration loading, errors and output."""

import argparse
import json
import os
import sys

from oslo_config import cfg

from rdpconsole import conf as conf_package
from rdpconsole import log
from rdpconsole.conf import loading
from rdpconsole.db import api as db_api
from rdpconsole.db import engine as db_engine

PROG = "rdpconsole"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure the CLI reports as one line on standard error, with an exit status."""

    def __init__(self, message, exit_code=EXIT_FAILURE):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def config_parent_parser():
    """Return the parser of the options that every subcommand accepts."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config-file",
        dest="config_files",
        action="append",
        metavar="PATH",
        help="Configuration file to read; repeat to read several, later files "
        "overriding earlier ones. Without it, rdpconsole reads "
        "~/.rdpconsole/rdpconsole.conf, ~/rdpconsole.conf, "
        "/etc/rdpconsole/rdpconsole.conf or /etc/rdpconsole.conf, "
        "whichever exist.",
    )
    return parent


def resolve_config_files(args):
    if args.config_files:
        return list(args.config_files)
    return list(cfg.find_config_files(project="rdpconsole", prog="rdpconsole"))


def load_config(args):
    """Load and validate the configuration and set up logging; return CONF.

    Raises CommandError with exit status 2 on any configuration problem.
    """
    conf = conf_package.CONF
    config_files = resolve_config_files(args)
    args.resolved_config_files = config_files
    try:
        loading.load(conf, config_files)
    except loading.ConfigurationError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    except cfg.Error as error:
        raise CommandError(f"Invalid configuration: {error}", EXIT_USAGE) from None
    log.setup(debug=conf.debug)
    return conf


def open_database(conf, prepare=True):
    """Open the configured database; with ``prepare``, make sure its schema is current.

    SQLite databases are upgraded in place; any other database must be at
    the latest revision already.
    """
    try:
        os.makedirs(conf.state_path, exist_ok=True)
    except OSError as error:
        raise CommandError(
            f"Cannot create [DEFAULT] state_path {conf.state_path!r}: {error.strerror}. "
            "Set state_path to a folder this user can write.",
            EXIT_USAGE,
        ) from None
    try:
        database = db_api.Database.from_conf(conf)
    except db_engine.DatabaseURLError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    if prepare:
        try:
            database.ensure_ready()
        except db_api.DatabaseNotReady as error:
            database.dispose()
            raise CommandError(str(error)) from None
    return database


def print_json(value):
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def format_timestamp(value):
    """Format a naive UTC datetime as Nova does (2023-10-04T12:00:00Z); None stays None."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def server_to_dict(server):
    """Return the CLI's JSON view of a server row."""
    return {
        "id": server.uuid,
        "name": server.name,
        "project_id": server.project_id,
        "user_id": server.user_id,
        "status": server.status,
        "task_state": server.task_state,
        "compute_host": server.host,
        "console_host": server.console_host,
        "console_port": server.console_port,
        "vm_id": server.vm_id,
        "metadata": dict(server.metadata_ or {}),
        "inventory_scope": server.inventory_scope,
        "created_at": format_timestamp(server.created_at),
        "updated_at": format_timestamp(server.updated_at),
    }


def print_table(headers, rows):
    """Print rows as a plain text table with a header line, columns padded to fit."""
    cells = [[str(value) if value is not None else "" for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))

    def line(values):
        return "  ".join(value.ljust(width) for value, width in zip(values, widths)).rstrip()

    print(line(headers))
    print(line(["-" * width for width in widths]))
    for row in cells:
        print(line(row))


def describe_database_error(error):
    """Return one line that describes why a database operation failed, without the password."""
    reason = getattr(error, "orig", None) or error
    first_line = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return (
        f"Database operation failed: {first_line}. Check [database] connection and "
        "that the database server is running."
    )
