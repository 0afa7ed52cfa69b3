"""The 'server' subcommands: manage servers by hand, outside any inventory file."""

import sys
import uuid as uuid_lib

from rdpconsole.cmd import common
from rdpconsole.domain import consoles
from rdpconsole.domain import exceptions
from rdpconsole.domain import servers as servers_module

LIST_COLUMNS = ("ID", "Name", "Project", "Status", "Task state", "Compute host", "Console",
                "Inventory scope")


def register(subparsers, parent):
    server = subparsers.add_parser(
        "server",
        help="Create, list, show, change and delete servers.",
        description="Manage the servers whose RDP consoles the API hands out. "
        "Servers created here have no inventory scope, so 'rdpconsole "
        "inventory sync' never changes them.",
    )
    commands = server.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    _register_create(commands, parent)
    _register_list(commands, parent)
    _register_show(commands, parent)
    _register_set(commands, parent)
    _register_delete(commands, parent)


def _property(text):
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(text)
    return key, value


_property.__name__ = "KEY=VALUE property"


def _add_field_options(parser, creating):
    """Add the options of the server fields; ``creating`` adds the defaults of 'create'."""
    parser.add_argument("--name", required=creating, help="Server name, as clients show and search it.")
    parser.add_argument("--project-id", required=creating, help="Project (tenant) that owns the server.")
    parser.add_argument("--user-id", required=creating, help="User who owns the server.")
    parser.add_argument(
        "--console-host",
        required=creating,
        help="IP address or DNS name of the RDP endpoint that the gateway connects to.",
    )
    parser.add_argument(
        "--console-port",
        type=int,
        default=servers_module.DEFAULT_CONSOLE_PORT if creating else None,
        help="TCP port of the RDP endpoint (default 3389 on create; Hyper-V's VM "
        "console listener is 2179).",
    )
    parser.add_argument(
        "--vm-id",
        help="Hyper-V VM GUID sent to the RDP endpoint as the preconnection blob; "
        "returned as the console's internal_access_path.",
    )
    parser.add_argument(
        "--status",
        default="ACTIVE" if creating else None,
        help="Nova server status (default ACTIVE on create), one of "
        f"{', '.join(servers_module.SERVER_STATUSES)}.",
    )
    parser.add_argument(
        "--compute-host",
        help="Compute host that runs the server. A server without one is not "
        "ready, and console requests for it get 409.",
    )
    parser.add_argument(
        "--task-state",
        help="Nova task state; 'deleting' and 'migrating' make console requests get 409.",
    )
    parser.add_argument(
        "--property",
        dest="properties",
        action="append",
        type=_property,
        default=[],
        metavar="KEY=VALUE",
        help="Metadata property to set; repeat for several.",
    )


def _register_create(commands, parent):
    create = commands.add_parser(
        "create",
        parents=[parent],
        help="Create a server and print it as JSON.",
        description="Create a server and print it as one JSON object.",
    )
    create.add_argument("--id", dest="server_id", metavar="UUID", help="UUID of the new server (default: a random UUID).")
    _add_field_options(create, creating=True)
    create.set_defaults(func=run_create, prog_name=create.prog)


def _register_list(commands, parent):
    list_parser = commands.add_parser(
        "list",
        parents=[parent],
        help="List servers.",
        description="List servers, newest first.",
    )
    list_parser.add_argument("--project-id", help="Only servers of this project.")
    list_parser.add_argument(
        "--name",
        help="Only servers whose name matches this regular expression, unanchored, "
        "as Nova's name filter.",
    )
    list_parser.add_argument("--inventory-scope", help="Only servers of this inventory scope.")
    list_parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="Output format (default table); json prints one JSON list.",
    )
    list_parser.set_defaults(func=run_list, prog_name=list_parser.prog)


def _register_show(commands, parent):
    show = commands.add_parser(
        "show",
        parents=[parent],
        help="Print one server as JSON.",
        description="Print one server as one JSON object.",
    )
    show.add_argument("server", metavar="SERVER", help="Server UUID, or a name that only one server has.")
    show.set_defaults(func=run_show, prog_name=show.prog)


def _register_set(commands, parent):
    set_parser = commands.add_parser(
        "set",
        parents=[parent],
        help="Change fields of a server and print it as JSON.",
        description="Change the given fields of a server and print it as one JSON "
        "object. A server of an inventory scope gets these changes undone by "
        "the next 'inventory sync' of that scope.",
    )
    set_parser.add_argument("server", metavar="SERVER", help="Server UUID, or a name that only one server has.")
    _add_field_options(set_parser, creating=False)
    set_parser.add_argument("--no-compute-host", action="store_true",
                            help="Clear the compute host, which makes the server not ready.")
    set_parser.add_argument("--no-vm-id", action="store_true", help="Clear the VM GUID.")
    set_parser.add_argument("--no-task-state", action="store_true", help="Clear the task state.")
    set_parser.add_argument(
        "--no-property",
        action="store_true",
        help="Remove every metadata property before applying --property.",
    )
    set_parser.set_defaults(func=run_set, prog_name=set_parser.prog)


def _register_delete(commands, parent):
    delete = commands.add_parser(
        "delete",
        parents=[parent],
        help="Delete servers and their console tokens.",
        description="Delete each server and every console token issued for it. "
        "Exits 1 if any of them could not be deleted.",
    )
    delete.add_argument("servers", nargs="+", metavar="SERVER",
                        help="Server UUID, or a name that only one server has.")
    delete.set_defaults(func=run_delete, prog_name=delete.prog)


def _field_values(args):
    """Return the server fields given on the command line, in ServerRepository's names."""
    fields = {}
    for option, field in (
        ("name", "name"),
        ("project_id", "project_id"),
        ("user_id", "user_id"),
        ("console_host", "console_host"),
        ("console_port", "console_port"),
        ("vm_id", "vm_id"),
        ("status", "status"),
        ("compute_host", "host"),
        ("task_state", "task_state"),
    ):
        value = getattr(args, option)
        if value is not None:
            fields[field] = value
    return fields


def _check_conflicting_options(args):
    for option, clear_option in (
        ("compute_host", "no_compute_host"),
        ("vm_id", "no_vm_id"),
        ("task_state", "no_task_state"),
    ):
        if getattr(args, option) is not None and getattr(args, clear_option):
            name = option.replace("_", "-")
            raise common.CommandError(
                f"--{name} and --no-{name} cannot be used together; pass only one",
                common.EXIT_USAGE,
            )


def find_server(repository, reference):
    """Return the server whose UUID is ``reference``, or the only server with that name."""
    try:
        uuid_lib.UUID(reference)
    except ValueError:
        pass
    else:
        try:
            return repository.get(reference)
        except exceptions.InstanceNotFound:
            pass

    matches = repository.list(filters={"name": reference})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise common.CommandError(
            f"No server with a name or ID of {reference!r} exists; "
            "'rdpconsole server list' shows the servers"
        )
    raise common.CommandError(
        f"{len(matches)} servers are named {reference!r}; use the server ID instead"
    )


def run_create(args):
    fields = _field_values(args)
    fields["metadata"] = dict(args.properties)
    if args.server_id is not None:
        fields["uuid"] = args.server_id

    conf = common.load_config(args)
    database = common.open_database(conf)
    try:
        created = servers_module.ServerRepository(database.sessionmaker).create(**fields)
    finally:
        database.dispose()
    common.print_json(common.server_to_dict(created))
    return common.EXIT_OK


def run_list(args):
    if args.name is not None:
        # The same RE2 engine as the API's name filter, so both accept the same patterns.
        try:
            servers_module.compile_regex(args.name)
        except servers_module.InvalidRegex as error:
            raise common.CommandError(
                f"Invalid --name regular expression {args.name!r}: {error.kwargs['reason']}",
                common.EXIT_USAGE,
            ) from None

    conf = common.load_config(args)
    database = common.open_database(conf)
    try:
        found = servers_module.ServerRepository(database.sessionmaker).list(
            project_id=args.project_id,
            name_regex=args.name,
            inventory_scope=args.inventory_scope,
        )
    finally:
        database.dispose()

    if args.format == "json":
        common.print_json([common.server_to_dict(server) for server in found])
        return common.EXIT_OK

    rows = [
        (
            server.uuid,
            server.name,
            server.project_id,
            server.status,
            server.task_state,
            server.host,
            _format_endpoint(server),
            server.inventory_scope,
        )
        for server in found
    ]
    common.print_table(LIST_COLUMNS, rows)
    return common.EXIT_OK


def _format_endpoint(server):
    host = f"[{server.console_host}]" if ":" in server.console_host else server.console_host
    endpoint = f"{host}:{server.console_port}"
    if server.vm_id:
        endpoint += f" vm {server.vm_id}"
    return endpoint


def run_show(args):
    conf = common.load_config(args)
    database = common.open_database(conf)
    try:
        found = find_server(servers_module.ServerRepository(database.sessionmaker), args.server)
    finally:
        database.dispose()
    common.print_json(common.server_to_dict(found))
    return common.EXIT_OK


def run_set(args):
    _check_conflicting_options(args)
    fields = _field_values(args)
    if args.no_compute_host:
        fields["host"] = None
    if args.no_vm_id:
        fields["vm_id"] = None
    if args.no_task_state:
        fields["task_state"] = None

    conf = common.load_config(args)
    database = common.open_database(conf)
    try:
        repository = servers_module.ServerRepository(database.sessionmaker)
        found = find_server(repository, args.server)
        if args.no_property or args.properties:
            metadata = {} if args.no_property else dict(found.metadata_ or {})
            metadata.update(dict(args.properties))
            fields["metadata"] = metadata
        if not fields:
            raise common.CommandError(
                "nothing to change; pass at least one field option such as --status",
                common.EXIT_USAGE,
            )
        if found.inventory_scope is not None:
            print(
                f"warning: server {found.uuid} belongs to inventory scope "
                f"{found.inventory_scope!r}; the next 'rdpconsole inventory sync' of "
                "that scope undoes this change",
                file=sys.stderr,
            )
        updated = repository.update(found.uuid, **fields)
    finally:
        database.dispose()
    common.print_json(common.server_to_dict(updated))
    return common.EXIT_OK


def run_delete(args):
    conf = common.load_config(args)
    database = common.open_database(conf)
    failures = 0
    try:
        repository = servers_module.ServerRepository(database.sessionmaker)
        console_service = consoles.ConsoleService(
            database.sessionmaker, conf.rdp.html5_proxy_base_url, conf.consoleauth.token_ttl
        )
        for reference in args.servers:
            try:
                found = find_server(repository, reference)
                token_count = console_service.delete_for_server(found.uuid)
                repository.delete(found.uuid)
            except (common.CommandError, exceptions.InstanceNotFound) as error:
                failures += 1
                message = error.message if hasattr(error, "message") else str(error)
                print(f"{args.prog_name}: error: {message}", file=sys.stderr)
                continue
            scope = f", inventory scope {found.inventory_scope!r}" if found.inventory_scope else ""
            print(
                f"Deleted server {found.uuid} ({found.name}{scope}) and {token_count} "
                f"console token{'' if token_count == 1 else 's'}"
            )
    finally:
        database.dispose()

    if failures:
        raise common.CommandError(
            f"{failures} of {len(args.servers)} servers could not be deleted"
        )
    return common.EXIT_OK

