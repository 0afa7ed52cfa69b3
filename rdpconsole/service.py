"""Run the Compute API and the console gateway under uvicorn.

With ``[api] workers = 1`` every requested service runs in this process, in
one event loop. With more API workers, this process becomes uvicorn's
supervisor of the API worker processes, and the gateway (when requested)
runs in a child process started as ``rdpconsole gateway``. SIGTERM and SIGINT
stop everything gracefully, and the process then exits with status 0.
"""

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import uvicorn
from uvicorn.supervisors import Multiprocess

from rdpconsole import log
from rdpconsole.db import api as db_api
from rdpconsole.gateway import server as gateway_server

LOG = logging.getLogger(__name__)

# Environment variable that hands the configuration files to API worker
# processes, which uvicorn starts by importing API_APP_FACTORY.
CONFIG_FILES_ENV = "RDPCONSOLE_CONFIG_FILES"
API_APP_FACTORY = "rdpconsole.service:create_api_app_from_environment"

API_APP_MODULE = "rdpconsole.api.app"
GATEWAY_APP_MODULE = "rdpconsole.gateway.app"

# Seconds open requests and WebSocket sessions get to finish after SIGTERM.
GRACEFUL_SHUTDOWN_SECONDS = 10
# Seconds the gateway child process gets to stop after SIGTERM before SIGKILL.
CHILD_STOP_TIMEOUT_SECONDS = 20
# Seconds to wait, after the gateway child exits, for the supervisor to see
# the signal that stopped it; uvicorn's supervisor checks every 0.5 s.
SIGNAL_GRACE_SECONDS = 2.0


class ServiceError(Exception):
    """A service could not start: a port in use, a missing module, a failed start-up."""


def encode_config_files(config_files):
    return os.pathsep.join(os.path.abspath(path) for path in config_files)


def decode_config_files(value):
    return [path for path in (value or "").split(os.pathsep) if path]


def load_app_factory(module_name):
    """Import ``module_name`` and return its ``create_app``.

    Raises ServiceError naming the module when it cannot be imported.
    """
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ServiceError(f"cannot import {module_name}: {error}") from None
    factory = getattr(module, "create_app", None)
    if factory is None:
        raise ServiceError(f"{module_name} has no create_app()")
    return factory


def create_api_app_from_environment():
    """Build the API application inside a uvicorn worker process.

    uvicorn imports this factory in each worker process it spawns, so it
    loads the configuration files named in RDPCONSOLE_CONFIG_FILES and sets
    up logging itself.
    """
    from rdpconsole import conf as conf_package
    from rdpconsole.conf import loading

    conf = conf_package.CONF
    loading.load(conf, decode_config_files(os.environ.get(CONFIG_FILES_ENV)))
    log.setup(debug=conf.debug)
    LOG.info("Compute API worker process %d started", os.getpid())
    return load_app_factory(API_APP_MODULE)(conf)


def prepare_database(conf):
    """Open the database and make sure its schema is current.

    SQLite databases are upgraded in place. Any other database must have
    been upgraded with 'rdpconsole db upgrade'; db_api.DatabaseNotReady
    is raised otherwise.
    """
    os.makedirs(conf.state_path, exist_ok=True)
    database = db_api.Database.from_conf(conf)
    database.ensure_ready()
    return database


def bind_socket(host, port, service_name, option_group):
    """Return a listening TCP socket on ``host:port``, or raise ServiceError naming the option."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ServiceError(
            f"cannot resolve [{option_group}] listen {host!r} for the {service_name}: {error.strerror}"
        ) from None

    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind(address)
        sock.listen(socket.SOMAXCONN)
    except OSError as error:
        sock.close()
        raise ServiceError(
            f"cannot listen on {format_address(host, port)} for the {service_name}: "
            f"{error.strerror}. Set a free port in [{option_group}] port or stop the "
            "process that uses it."
        ) from None
    sock.set_inheritable(True)
    return sock


def format_address(host, port):
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def socket_url(sock):
    host, port = sock.getsockname()[:2]
    return f"http://{format_address(host, port)}"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to run_services()."""

    def __init__(self, config, name):
        super().__init__(config)
        self.name = name
        self.failed = False

    @contextlib.contextmanager
    def capture_signals(self):
        yield

    async def serve_quietly(self, sockets):
        """Serve until should_exit is set; record a start-up failure instead of exiting the process."""
        try:
            await self.serve(sockets=sockets)
        except SystemExit:
            self.failed = True
        except Exception:
            LOG.exception("%s stopped on an unexpected error", self.name)
            self.failed = True
        if not self.started:
            self.failed = True


def _uvicorn_config(app, *, websockets, lifespan, options=None):
    settings = {
        "lifespan": lifespan,
        "ws": "auto" if websockets else "none",
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
    }
    # The service's own options (the gateway's WebSocket limits and timeouts) win.
    settings.update(options or {})
    return uvicorn.Config(
        app,
        log_config=None,
        log_level=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **settings,
    )


class ServiceSpec:
    """One ASGI application to serve: its name, its app and its listening socket."""

    def __init__(self, name, app, sock, websockets=False, lifespan="on", options=None):
        self.name = name
        self.app = app
        self.sock = sock
        self.websockets = websockets
        self.lifespan = lifespan
        self.options = options


def run_in_process(specs, on_started=None):
    """Serve every spec in this process until SIGTERM or SIGINT; return the exit status.

    ``on_started`` is called once every server accepts connections. A server
    that fails to start stops the others and makes the status 1.
    """
    return asyncio.run(_run_in_process(specs, on_started))


async def _run_in_process(specs, on_started):
    loop = asyncio.get_running_loop()
    servers = [
        _Server(
            _uvicorn_config(spec.app, websockets=spec.websockets, lifespan=spec.lifespan,
                            options=spec.options),
            spec.name,
        )
        for spec in specs
    ]
    received = []

    def request_stop(signal_name):
        if not received:
            LOG.info("Received %s, stopping", signal_name)
        received.append(signal_name)
        for server in servers:
            if server.should_exit and signal_name == "SIGINT":
                server.force_exit = True
            server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signal.Signals(signum).name)

    tasks = [
        asyncio.create_task(server.serve_quietly([spec.sock]))
        for server, spec in zip(servers, specs)
    ]
    try:
        await _announce_when_started(servers, specs, tasks, on_started)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        for spec in specs:
            spec.sock.close()

    failed = [server.name for server in servers if server.failed]
    if failed:
        LOG.error("Stopped because the %s failed; see the lines above", " and ".join(failed))
        return 1
    LOG.info("Stopped %s", " and ".join(server.name for server in servers))
    return 0


async def _announce_when_started(servers, specs, tasks, on_started):
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks) or any(server.should_exit for server in servers):
            return
        await asyncio.sleep(0.02)
    for spec in specs:
        LOG.info("%s%s listening on %s", spec.name[0].upper(), spec.name[1:], socket_url(spec.sock))
    if on_started is not None:
        on_started()


def run_api_workers(conf, config_files, api_sock, gateway=False):
    """Run the API in ``[api] workers`` processes under uvicorn's supervisor; return the exit status.

    With ``gateway`` true, the console gateway runs in a child process
    started as 'rdpconsole gateway' with the same configuration files.
    """
    os.environ[CONFIG_FILES_ENV] = encode_config_files(config_files)
    config = uvicorn.Config(
        API_APP_FACTORY,
        factory=True,
        workers=conf.api.workers,
        lifespan="on",
        ws="none",
        log_config=None,
        log_level=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    supervisor = Multiprocess(config, sockets=[api_sock])

    gateway_process = None
    gateway_failed = threading.Event()
    if gateway:
        gateway_process = _start_gateway_process(config_files)
        threading.Thread(
            target=_watch_gateway_process,
            args=(gateway_process, supervisor, gateway_failed),
            daemon=True,
        ).start()

    LOG.info("Compute API listening on %s with %d worker processes",
             socket_url(api_sock), conf.api.workers)
    try:
        supervisor.run()
    finally:
        api_sock.close()
        if gateway_process is not None:
            _stop_child(gateway_process, "console gateway")

    if gateway_failed.is_set():
        LOG.error("Stopped because the console gateway process exited; see the lines above")
        return 1
    if any(process.exitcode == uvicorn.config.STARTUP_FAILURE for process in supervisor.processes):
        LOG.error("Stopped because a Compute API worker failed to start; see the lines above")
        return 1
    LOG.info("Stopped Compute API%s", " and console gateway" if gateway else "")
    return 0


def _start_gateway_process(config_files):
    argv = [sys.executable, "-m", "rdpconsole.cmd.main", "gateway"]
    for path in config_files:
        argv += ["--config-file", os.path.abspath(path)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    LOG.info("Started console gateway process %d", process.pid)
    return process


def _watch_gateway_process(process, supervisor, failed):
    process.wait()
    # Ctrl+C in a terminal signals the whole process group, so the gateway may
    # exit just before the supervisor handles the same signal.
    if supervisor.should_exit.wait(SIGNAL_GRACE_SECONDS):
        return
    LOG.error("Console gateway process %d exited with status %s; stopping the Compute API",
              process.pid, process.returncode)
    failed.set()
    supervisor.should_exit.set()


def _stop_child(process, name):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(CHILD_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        LOG.warning("%s process %d did not stop within %d s of SIGTERM; sending SIGKILL",
                    name, process.pid, CHILD_STOP_TIMEOUT_SECONDS)
        process.kill()
        process.wait()


def serve(conf, config_files, api=True, gateway=True, on_started=None, database=None):
    """Start the requested services and block until they stop; return the exit status.

    Raises ServiceError or
    db_api.DatabaseNotReady when a service cannot start.
    """
    started_at = time.monotonic()
    if database is None:
        database = prepare_database(conf)

    gateway_factory = load_app_factory(GATEWAY_APP_MODULE) if gateway else None
    api_factory = load_app_factory(API_APP_MODULE) if api else None
    api_sock = bind_socket(conf.api.listen, conf.api.port, "Compute API", "api") if api else None
    try:
        gateway_sock = (
            bind_socket(conf.gateway.listen, conf.gateway.port, "console gateway", "gateway")
            if gateway else None
        )
    except ServiceError:
        if api_sock is not None:
            api_sock.close()
        raise

    if api and conf.api.workers > 1:
        if gateway_sock is not None:
            # The child process binds the gateway port itself.
            gateway_sock.close()
        database.dispose()
        return run_api_workers(conf, config_files, api_sock, gateway=gateway)

    specs = []
    if api:
        specs.append(ServiceSpec("Compute API", api_factory(conf, database=database), api_sock))
    if gateway:
        specs.append(ServiceSpec("console gateway", gateway_factory(conf, database=database),
                                 gateway_sock, websockets=True,
                                 options=gateway_server.uvicorn_options(conf)))
    LOG.debug("Services prepared in %.2f s", time.monotonic() - started_at)
    try:
        return run_in_process(specs, on_started=on_started)
    finally:
        database.dispose()
