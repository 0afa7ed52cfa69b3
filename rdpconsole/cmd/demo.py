"""The 'demo' subcommand: a working RDP console on this machine in one command.

It starts a private X display (Xvfb) with a recognisable picture and shares
it over RDP with FreeRDP's shadow server on a loopback port. It registers
that display as the only server of inventory scope 'demo', runs the API and
the gateway on loopback with noauth2, and prints a console URL and the
openstack command that gets a fresh one.
"""

import logging
import os
import shutil
import signal
import sys
import uuid as uuid_lib

from rdpconsole import inventory
from rdpconsole import service
from rdpconsole.cmd import common
from rdpconsole.conf import loading
from rdpconsole.domain import consoles
from rdpconsole.domain import servers as servers_module

LOG = logging.getLogger(__name__)

DEMO_SCOPE = "demo"
DEMO_SERVER_NAME = "demo-desktop"
DEMO_PROJECT = "demo"
DEMO_USER = "demo"
DEMO_COMPUTE_HOST = "demo-host"
DEMO_MARKER = "rdpconsole demo: this desktop reaches your browser over RDP"
LOOPBACK = "127.0.0.1"

# Programs the desktop rig runs, with the Debian package of each.
REQUIRED_PROGRAMS = {
    "Xvfb": "xvfb",
    "freerdp-shadow-cli": "freerdp2-shadow-x11",
    "xterm": "xterm",
    "xsetroot": "x11-xserver-utils",
    "xdotool": "xdotool",
}


class _StopRequested(Exception):
    """SIGTERM arrived before or after the services ran."""


def register(subparsers, parent):
    demo = subparsers.add_parser(
        "demo",
        parents=[parent],
        help="Run a demonstration desktop with a working RDP console.",
        description="Start a virtual X display with a known picture, share it with "
        "freerdp-shadow-cli on a loopback port, register it as server "
        f"{DEMO_SERVER_NAME!r} of project {DEMO_PROJECT!r} (inventory scope "
        f"{DEMO_SCOPE!r}, recreated on every run), run the API and the gateway "
        "on 127.0.0.1 with auth_strategy noauth2, and print a console URL. "
        "Needs the Debian packages "
        f"{', '.join(sorted(set(REQUIRED_PROGRAMS.values())))}. "
        "Ctrl+C or SIGTERM stops everything it started.",
    )
    demo.add_argument("--api-port", type=int, help="TCP port of the Compute API (default: [api] port).")
    demo.add_argument(
        "--gateway-port", type=int, help="TCP port of the console gateway (default: [gateway] port)."
    )
    demo.set_defaults(func=run_demo, prog_name=demo.prog)


def missing_programs():
    """Return {program: Debian package} of the rig's programs that are not on PATH."""
    return {program: package for program, package in REQUIRED_PROGRAMS.items()
            if shutil.which(program) is None}


def _check_port(value, option):
    if value is not None and not 1 <= value <= 65535:
        raise common.CommandError(
            f"Invalid {option} {value}: expected a TCP port number from 1 to 65535", common.EXIT_USAGE
        )


def _apply_demo_options(conf, args):
    """Serve on loopback only, with noauth2 and one API process, on the requested ports."""
    api_port = args.api_port if args.api_port is not None else conf.api.port
    gateway_port = args.gateway_port if args.gateway_port is not None else conf.gateway.port
    conf.set_override("listen", LOOPBACK, group="api")
    conf.set_override("port", api_port, group="api")
    conf.set_override("workers", 1, group="api")
    conf.set_override("auth_strategy", "noauth2", group="api")
    conf.set_override("listen", LOOPBACK, group="gateway")
    conf.set_override("port", gateway_port, group="gateway")
    conf.set_override("html5_proxy_base_url", f"http://{LOOPBACK}:{gateway_port}/", group="rdp")


def run_demo(args):
    _check_port(args.api_port, "--api-port")
    _check_port(args.gateway_port, "--gateway-port")
    conf = common.load_config(args)

    missing = missing_programs()
    if missing:
        packages = " ".join(sorted(set(missing.values())))
        raise common.CommandError(
            f"the demo needs {', '.join(sorted(missing))}, which are not installed; "
            f"install them with: apt-get install {packages}"
        )

    _apply_demo_options(conf, args)
    database = common.open_database(conf)

    # Imported here so that the other subcommands do not load the rig.
    from rdpconsole import desktop

    rig = desktop.DesktopRig(os.path.join(conf.state_path, "demo"), marker=DEMO_MARKER)
    previous_handler = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        try:
            rig.start()
        except desktop.DesktopError as error:
            raise common.CommandError(f"the demo desktop did not start: {error}") from None
        _print_desktop(rig)

        server = _register_server(database, rig)
        return service.serve(
            conf,
            args.resolved_config_files,
            api=True,
            gateway=True,
            database=database,
            on_started=lambda: _print_console(conf, database, server),
        )
    except service.ServiceError as error:
        raise common.CommandError(str(error)) from None
    except loading.ConfigurationError as error:
        raise common.CommandError(str(error), common.EXIT_USAGE) from None
    except (KeyboardInterrupt, _StopRequested):
        LOG.info("Stopping the demo")
        return common.EXIT_OK
    finally:
        # A second Ctrl+C or SIGTERM must not interrupt stopping the desktop's processes.
        previous_int_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            rig.stop()
            LOG.info("Demo desktop stopped")
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            signal.signal(signal.SIGINT, previous_int_handler)
            database.dispose()


def _raise_stop(_signum, _frame):
    raise _StopRequested()


def _register_server(database, rig):
    """Make a new demo server the only one of scope 'demo'; return it."""
    declared = inventory.build_server({
        "id": str(uuid_lib.uuid4()),
        "name": DEMO_SERVER_NAME,
        "project_id": DEMO_PROJECT,
        "user_id": DEMO_USER,
        "console_host": rig.host,
        "console_port": rig.port,
        "compute_host": DEMO_COMPUTE_HOST,
        "metadata": {"purpose": "rdpconsole demo"},
    })
    demo_inventory = inventory.Inventory(scope=DEMO_SCOPE, servers=(declared,), path="(demo)")
    result = inventory.sync_inventory(database.sessionmaker, demo_inventory)
    for change in result.deleted:
        LOG.info("Deleted the previous demo server %s", change.uuid)
    LOG.info("Registered demo server %s (%s) for %s:%d", declared.uuid, DEMO_SERVER_NAME,
             rig.host, rig.port)
    return servers_module.ServerRepository(database.sessionmaker).get(declared.uuid)


def _print_desktop(rig):
    print(
        f"Demo desktop: Xvfb display {rig.display.name} (pid {rig.display.process.pid}), "
        f"xterm (pid {rig.terminal.pid}), freerdp-shadow-cli on {rig.host}:{rig.port} "
        f"(pid {rig.shadow.process.pid})",
        flush=True,
    )


def _print_console(conf, database, server):
    console_service = consoles.ConsoleService(
        database.sessionmaker, conf.rdp.html5_proxy_base_url, conf.consoleauth.token_ttl
    )
    url = console_service.get_rdp_console(server, consoles.RDP_CONSOLE_TYPE)
    api_url = f"http://{LOOPBACK}:{conf.api.port}"
    print(f"Compute API: {api_url}/v2.1", flush=True)
    print(f"Console URL (valid for {conf.consoleauth.token_ttl} s): {url}", flush=True)
    print(
        "Fresh console URL: openstack --os-auth-type admin_token "
        f"--os-endpoint {api_url}/v2.1 --os-token {DEMO_USER}:{DEMO_PROJECT} "
        f"console url show --rdp {DEMO_SERVER_NAME}",
        flush=True,
    )
    print("Press Ctrl+C to stop.", flush=True)
    sys.stdout.flush()
