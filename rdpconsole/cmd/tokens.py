"""The 'tokens' subcommands: maintain console tokens."""

from rdpconsole.cmd import common
from rdpconsole.domain import consoles


def register(subparsers, parent):
    tokens = subparsers.add_parser(
        "tokens",
        help="Maintain console tokens.",
        description="Maintain the console tokens stored in the database.",
    )
    commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)

    purge = commands.add_parser(
        "purge",
        parents=[parent],
        help="Delete expired console tokens.",
        description="Delete every console token whose expiry time has passed and "
        "print how many were deleted. The API service also does this every "
        "[consoleauth] purge_interval seconds.",
    )
    purge.set_defaults(func=run_purge, prog_name=purge.prog)


def run_purge(args):
    conf = common.load_config(args)
    database = common.open_database(conf)
    try:
        service = consoles.ConsoleService(
            database.sessionmaker, conf.rdp.html5_proxy_base_url, conf.consoleauth.token_ttl
        )
        count = service.purge_expired()
    finally:
        database.dispose()
    print(f"Deleted {count} expired console token{'' if count == 1 else 's'}")
    return common.EXIT_OK
