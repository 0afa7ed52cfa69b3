"""The ``rdpconsole`` command line.

Exit status: 0 on success, 1 when the operation failed, 2 on a usage or
configuration error. Every error is one line on standard error that names
the value and what to do.
"""

import argparse
import sys

import sqlalchemy

from rdpconsole.cmd import common
from rdpconsole.cmd import db
from rdpconsole.cmd import demo
from rdpconsole.cmd import inventory
from rdpconsole.cmd import serve
from rdpconsole.cmd import server
from rdpconsole.cmd import tokens
from rdpconsole.domain import exceptions

_COMMAND_MODULES = (serve, db, server, inventory, tokens, demo)


def build_parser():
    parser = argparse.ArgumentParser(
        prog=common.PROG,
        description="Browser RDP consoles for OpenStack clients: a Nova-compatible "
        "Compute API and an RDP console gateway, with the commands that manage "
        "their servers and database.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = common.config_parent_parser()
    for module in _COMMAND_MODULES:
        module.register(subparsers, parent)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = getattr(args, "prog_name", None) or f"{common.PROG} {args.command}"

    try:
        status = args.func(args)
    except common.CommandError as error:
        _print_error(prog, error.message)
        status = error.exit_code
    except exceptions.Invalid as error:
        _print_error(prog, error.message)
        status = common.EXIT_USAGE
    except exceptions.RdpconsoleError as error:
        _print_error(prog, error.message)
        status = common.EXIT_FAILURE
    except sqlalchemy.exc.SQLAlchemyError as error:
        _print_error(prog, common.describe_database_error(error))
        status = common.EXIT_FAILURE
    except KeyboardInterrupt:
        _print_error(prog, "interrupted")
        status = 130
    sys.exit(status or common.EXIT_OK)


def _print_error(prog, message):
    sys.stdout.flush()
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
