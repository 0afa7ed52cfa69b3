"""Benchmark the console gateway's relay against direct TCP+TLS and websockify.

Starts, all on free 127.0.0.1 ports:

- endpoint.py, an RDP-like endpoint: X.224 Connection Confirm, then TLS (or
  no TLS on its plain port), then the bulk, echo and idle commands of
  protocol.py;
- the console gateway as ``rdpconsole gateway --config-file F``, the
  project's own command and settings, with SQLite in a temporary folder and
  ``[gateway] max_sessions_per_token`` raised so that one token can open
  every session;
- websockify, the plain-TCP WebSocket relay behind Nova's noVNC proxy,
  relaying to the endpoint's plain port;
- FreeRDP's shadow server on Xvfb (``rdpconsole.desktop``), for the session
  set-up times, when Xvfb and freerdp-shadow-cli are installed.

Then it measures, with load.py in a process of its own for every point:

1. throughput both ways through the gateway, websockify, and directly (TCP+TLS and plain TCP);
2. the round-trip time of small messages along the same four paths;
3. session set-up time, from the WebSocket open to the RDCleanPath response;
4. resident memory per idle gateway session, and the most idle sessions that
   one gateway process and one websockify server hold.

Prints a Markdown report and writes it to --output when given.

    python bench/gateway/run.py --output /tmp/gateway-bench.md
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import procstat
import report
from report import DIRECTIONS, PATHS, TARGET_SESSIONS, percentile

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD = os.path.join(HERE, "load.py")
ENDPOINT = os.path.join(HERE, "endpoint.py")

# Seconds a service gets to start serving, and to stop after SIGTERM.
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
# Seconds one load client process may run before it is killed.
CLIENT_TIMEOUT_SECONDS = 300
# Seconds the idle sessions settle before memory is read.
SETTLE_SECONDS = 2.0

PHASES = ("throughput", "latency", "setup", "memory", "websockify-sessions")

# Log line fragments that the report counts: Python's EMFILE error, logged
# errors and tracebacks, and the ValueError of select() on a file descriptor
# above FD_SETSIZE (1024).
LOG_MARKERS = ("Too many open files", "ERROR", "Traceback", "out of range in select")


class BenchError(Exception):
    """The benchmark could not run: a missing program, a service that did not start, a failed client."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark the console gateway's relay (throughput, latency, set-up "
        "time, memory per idle session, session limit) against direct TCP+TLS and websockify.",
    )
    parser.add_argument("--rounds", type=int, default=3,
                        help="Rounds of the throughput and latency points; the paths alternate "
                        "within each round (default 3).")
    parser.add_argument("--bytes", type=int, default=1024, metavar="MIB",
                        help="MiB moved by each timed transfer (default 1024).")
    parser.add_argument("--message-size", type=int, default=256, metavar="KIB",
                        help="KiB per WebSocket message that the client sends (default 256; "
                        "the gateway accepts up to [gateway] max_message_size, 1 MiB).")
    parser.add_argument("--pdu-size", type=int, default=16384, metavar="BYTES",
                        help="Bytes of each fast-path PDU that the endpoint sends server to client "
                        "(default 16384; at most 32767; 0 sends bytes that start no PDU, which the "
                        "gateway relays unframed).")
    parser.add_argument("--pings", type=int, default=5000,
                        help="Timed ping-pongs of 64 bytes per path and round (default 5000).")
    parser.add_argument("--setup-sessions", type=int, default=200,
                        help="Sessions opened one after the other per set-up point (default 200).")
    parser.add_argument("--memory-sessions", type=int, default=1000,
                        help="Idle sessions whose resident memory is measured (default 1000).")
    parser.add_argument("--warmup-sessions", type=int, default=100,
                        help="Idle sessions opened before the memory baseline (default 100).")
    parser.add_argument("--max-sessions", type=int, default=TARGET_SESSIONS,
                        help=f"Idle gateway sessions to try to hold (default {TARGET_SESSIONS}).")
    parser.add_argument("--websockify-max-sessions", type=int, default=1500,
                        help="Idle websockify sessions to try to hold (default 1500).")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"Comma-separated phases among {', '.join(PHASES)} (default all).")
    parser.add_argument("--no-shadow", action="store_true",
                        help="Skip FreeRDP's shadow server in the set-up phase.")
    parser.add_argument("--output", metavar="PATH", help="Also write the Markdown report to this file.")
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    parser.add_argument("--keep-state", action="store_true",
                        help="Keep the temporary folder (configuration, database, logs) and print its path.")
    args = parser.parse_args(argv)
    args.phases = [phase.strip() for phase in args.phases.split(",") if phase.strip()]
    unknown = [phase for phase in args.phases if phase not in PHASES]
    if unknown:
        parser.error(f"unknown --phases {', '.join(unknown)}; choose among {', '.join(PHASES)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.pdu_size and not 3 <= args.pdu_size <= 0x7FFF:
        parser.error(f"--pdu-size must be 0 or 3 to 32767 (the fast-path length field), got {args.pdu_size}")
    return args


# --- Processes ------------------------------------------------------------------------------------------


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_script(name):
    """Return the console script ``name`` installed next to the interpreter that runs this script."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise BenchError(f"{path} does not exist; install it into this environment with "
                         f"'{sys.executable} -m pip install {name}'")
    return path


def raise_fd_limit():
    """Raise the soft limit of open files to the hard limit, in the child before exec."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_process(argv, log_path, stdin=subprocess.DEVNULL, stdout=None):
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=stdin, stdout=stdout or log, stderr=log,
                                start_new_session=True, preexec_fn=raise_fd_limit, cwd=HERE)


def stop_process(process):
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS, to ``process`` and its process group.

    Each process was started in a session of its own, so its group holds
    only what it forked (websockify's per-connection children).
    """
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def tail(path, lines=20):
    with open(path, encoding="utf-8", errors="replace") as log:
        return "".join(log.readlines()[-lines:])


def wait_for_port(process, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{process.args[0]} exited with status {process.returncode}; "
                             f"log:\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        time.sleep(0.1)
    raise BenchError(f"127.0.0.1:{port} accepted no connection within {START_TIMEOUT_SECONDS} s; "
                     f"log:\n{tail(log_path)}")


def wait_for_health(process, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the gateway exited with status {process.returncode}; log:\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        time.sleep(0.1)
    raise BenchError(f"the gateway returned no HTTP 200 to GET /healthz within {START_TIMEOUT_SECONDS} s; "
                     f"log:\n{tail(log_path)}")


def make_certificate(folder):
    """Write a self-signed RSA 2048 certificate for 127.0.0.1, as Windows' RDP certificates are; return (cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rdp-bench")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(folder, "endpoint.crt")
    key_path = os.path.join(folder, "endpoint.key")
    with open(cert_path, "wb") as output:
        output.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as output:
        output.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


class Services:
    """The endpoint, the gateway, websockify and (on request) FreeRDP's shadow server, with their tokens."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.rdpconsole = find_script("rdpconsole")
        self.websockify_script = find_script("websockify")
        self.database_url = f"sqlite:///{os.path.join(state_dir, 'rdpconsole.sqlite')}"
        self.endpoint = None
        self.gateway = None
        self.websockify = None
        self.desktop = None
        self.ports = {}
        self.tokens = {}
        self.gateway_starts = 0
        self.websockify_starts = 0
        self.shadow_error = None

    def start(self):
        cert, key = make_certificate(self.state_dir)
        log_path = os.path.join(self.state_dir, "endpoint.log")
        self.endpoint = start_process([sys.executable, ENDPOINT, "--cert", cert, "--key", key], log_path,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.endpoint.stdout.readline()
        if not line:
            raise BenchError(f"endpoint.py printed no ports; log:\n{tail(log_path)}")
        listeners = json.loads(line)
        self.ports["direct-tls"] = listeners["tls"]
        self.ports["direct-tcp"] = listeners["plain"]

        self._prepare_database()
        self.tokens["endpoint"] = self._issue_token("endpoint", "127.0.0.1", self.ports["direct-tls"])
        self.start_gateway()
        self.start_websockify()
        return self

    def _prepare_database(self):
        from rdpconsole.db.api import Database
        from rdpconsole.domain.servers import ServerRepository

        self._database = Database(self.database_url)
        self._database.upgrade()
        self._servers = ServerRepository(self._database.sessionmaker)

    def _issue_token(self, name, host, port):
        from rdpconsole.domain.consoles import ConsoleService

        server = self._servers.create(name=name, project_id="bench-project", user_id="bench-user",
                                      console_host=host, console_port=port, host="bench-host")
        service = ConsoleService(self._database.sessionmaker, "http://127.0.0.1:6083/", token_ttl=86400)
        return service.authorize(server, "rdp-html5")

    def start_gateway(self):
        """Start a new gateway process on a new port (the previous one, if any, is stopped first)."""
        stop_process(self.gateway)
        self.gateway_starts += 1
        port = free_port()
        config_path = os.path.join(self.state_dir, f"gateway-{self.gateway_starts}.conf")
        with open(config_path, "w", encoding="utf-8") as config:
            config.write(
                "[DEFAULT]\n"
                f"state_path = {self.state_dir}\n"
                "[database]\n"
                f"connection = {self.database_url}\n"
                "[gateway]\n"
                "listen = 127.0.0.1\n"
                f"port = {port}\n"
                # One token opens every session of the benchmark.
                "max_sessions_per_token = 100000\n"
                "[rdp]\n"
                f"html5_proxy_base_url = http://127.0.0.1:{port}/\n"
            )
        self.gateway_config = config_path
        self.gateway_log = os.path.join(self.state_dir, f"gateway-{self.gateway_starts}.log")
        self.gateway = start_process([self.rdpconsole, "gateway", "--config-file", config_path], self.gateway_log)
        wait_for_health(self.gateway, port, self.gateway_log)
        self.ports["gateway"] = port

    def start_websockify(self):
        stop_process(self.websockify)
        self.websockify_starts += 1
        port = free_port()
        self.websockify_log = os.path.join(self.state_dir, f"websockify-{self.websockify_starts}.log")
        self.websockify = start_process(
            [self.websockify_script, f"127.0.0.1:{port}", f"127.0.0.1:{self.ports['direct-tcp']}"],
            self.websockify_log)
        wait_for_port(self.websockify, port, self.websockify_log)
        self.ports["websockify"] = port

    def start_shadow(self):
        """Start Xvfb and freerdp-shadow-cli; return False (and keep the reason) when they cannot run."""
        try:
            from rdpconsole.desktop.processes import DesktopError
            from rdpconsole.desktop.shadow import ShadowServer
            from rdpconsole.desktop.xvfb import XvfbDisplay
        except ImportError as error:
            self.shadow_error = f"rdpconsole.desktop is not available: {error}"
            return False
        folder = os.path.join(self.state_dir, "shadow")
        os.makedirs(folder, exist_ok=True)
        display = XvfbDisplay(1024, 768, log_path=os.path.join(folder, "xvfb.log"))
        shadow = ShadowServer(display, os.path.join(folder, "config"), log_path=os.path.join(folder, "shadow.log"))
        try:
            display.start()
            self.desktop = (display, shadow)
            shadow.start()
        except (DesktopError, OSError) as error:
            self.shadow_error = str(error)
            self.stop_shadow()
            return False
        self.ports["shadow"] = shadow.port
        self.tokens["shadow"] = self._issue_token("shadow", "127.0.0.1", shadow.port)
        return True

    def stop_shadow(self):
        if self.desktop is None:
            return
        display, shadow = self.desktop
        self.desktop = None
        try:
            shadow.stop()
        finally:
            display.stop()

    def relay_pid(self, path):
        return {"gateway": self.gateway.pid, "websockify": self.websockify.pid}.get(path)

    def stop(self):
        try:
            self.stop_shadow()
        finally:
            stop_process(self.websockify)
            stop_process(self.gateway)
            if self.endpoint is not None:
                with contextlib.suppress(OSError):
                    self.endpoint.stdin.close()
                stop_process(self.endpoint)
            if getattr(self, "_database", None) is not None:
                self._database.dispose()


# --- Load clients and CPU sampling ----------------------------------------------------------------------


def sample_cpu(services):
    """Return the monotonic time, the machine's busy CPU seconds and each service's CPU seconds."""
    return {
        "time": time.monotonic(),
        "busy": procstat.machine_busy_seconds(),
        "gateway": procstat.cpu_seconds(services.gateway.pid),
        "endpoint": procstat.tree_cpu_seconds(services.endpoint.pid),
        "websockify": procstat.tree_cpu_seconds(services.websockify.pid),
    }


def cpu_deltas(before, after, client_cpu):
    wall = after["time"] - before["time"]
    deltas = {name: after[name] - before[name] for name in ("gateway", "endpoint", "websockify")}
    ours = sum(deltas.values()) + client_cpu
    deltas["wall"] = wall
    deltas["client"] = client_cpu
    deltas["other_cpus"] = max(0.0, (after["busy"] - before["busy"] - ours) / wall) if wall > 0 else 0.0
    return deltas


class LoadClient:
    """One load.py process; ``go()`` runs its timed part between two CPU samples."""

    def __init__(self, services, mode, options, log_name):
        self.services = services
        self.log_path = os.path.join(services.state_dir, log_name)
        argv = [sys.executable, LOAD, mode, *[str(option) for option in options]]
        self.process = start_process(argv, self.log_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._watchdog = threading.Timer(CLIENT_TIMEOUT_SECONDS, self.process.kill)
        self._watchdog.start()
        self.read_line()

    def read_line(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise BenchError(f"load client {' '.join(self.process.args[2:5])} exited with status "
                             f"{self.process.returncode}; log:\n{tail(self.log_path)}")
        return json.loads(line)

    def command(self, text):
        self.process.stdin.write(text.encode("ascii") + b"\n")
        self.process.stdin.flush()
        return self.read_line()

    def go(self):
        before = sample_cpu(self.services)
        result = self.command("go")
        after = sample_cpu(self.services)
        result["cpu"] = cpu_deltas(before, after, result.get("client_cpu_seconds", 0.0))
        self.finish()
        return result

    def finish(self):
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._watchdog.cancel()


def path_options(services, path, token_name="endpoint"):
    port = services.ports["shadow"] if (token_name == "shadow" and path == "direct-tls") else services.ports[path]
    options = ["--path", path, "--port", port]
    if path == "gateway":
        options += ["--token", services.tokens[token_name]]
    return options


# --- Phases ---------------------------------------------------------------------------------------------


def run_throughput(args, services, log):
    points = []
    for round_number in range(1, args.rounds + 1):
        for direction in DIRECTIONS:
            for path in PATHS:
                options = path_options(services, path) + [
                    "--direction", direction, "--bytes", args.bytes * 1024 * 1024,
                    "--message-size", args.message_size * 1024, "--pdu-size", args.pdu_size]
                result = LoadClient(services, "throughput", options, "load-throughput.log").go()
                result.update(round=round_number, direction=direction, path=path)
                points.append(result)
                log(f"throughput round {round_number} {direction} {path}: "
                    f"{result['bytes'] / result['seconds'] / 1e6:.0f} MB/s")
    return points


def run_latency(args, services, log):
    points = []
    for round_number in range(1, args.rounds + 1):
        for path in PATHS:
            options = path_options(services, path) + ["--count", args.pings, "--warmup", 500]
            result = LoadClient(services, "latency", options, "load-latency.log").go()
            result.update(round=round_number, path=path)
            points.append(result)
            log(f"latency round {round_number} {path}: p50 {percentile(result['samples_us'], 50):.0f} us, "
                f"p99 {percentile(result['samples_us'], 99):.0f} us")
    return points


def run_setup(args, services, log):
    points = []
    targets = [("endpoint", "gateway"), ("endpoint", "direct-tls")]
    shadow = None
    if not args.no_shadow:
        shadow = services.start_shadow()
        if shadow:
            targets += [("shadow", "gateway"), ("shadow", "direct-tls")]
        else:
            log(f"set-up against FreeRDP's shadow server skipped: {services.shadow_error}")
    try:
        for target, path in targets:
            options = path_options(services, path, token_name=target) + [
                "--count", args.setup_sessions, "--warmup", 20]
            result = LoadClient(services, "setup", options, "load-setup.log").go()
            result.update(target=target, path=path)
            points.append(result)
            log(f"set-up {target} {path}: p50 {percentile(result['total_us'], 50) / 1000:.2f} ms")
    finally:
        services.stop_shadow()
    return {"points": points, "shadow_error": None if shadow or args.no_shadow else services.shadow_error}


def idle_steps(start, maximum):
    """Return the cumulative session counts at which the ramp stops to measure."""
    steps = [count for count in (2000, 4000, 6000, 8000, 9000, 9500, 9900) if start < count < maximum]
    return steps + [maximum]


def gateway_state(services):
    pid = services.gateway.pid
    return {"rss": procstat.rss_bytes(pid), "fds": procstat.fd_count(pid),
            "cpu": procstat.cpu_seconds(pid), "alive": services.gateway.poll() is None}


def run_memory(args, services, log):
    """Memory per idle gateway session at --memory-sessions, then the ramp towards --max-sessions."""
    services.start_gateway()
    pid = services.gateway.pid
    client = LoadClient(services, "idle", path_options(services, "gateway"), "load-idle-gateway.log")
    result = {"fd_limit": procstat.fd_limit(pid), "steps": []}
    try:
        start_state = gateway_state(services)
        warm = client.command(f"open {args.warmup_sessions}")
        time.sleep(SETTLE_SECONDS)
        baseline = gateway_state(services)
        measured = client.command(f"open {args.memory_sessions}")
        time.sleep(SETTLE_SECONDS)
        loaded = gateway_state(services)
        result.update(start=start_state, warmup=warm, baseline=baseline, measured=measured, loaded=loaded)
        log(f"memory: {(loaded['rss'] - baseline['rss']) / max(1, measured['opened']) / 1024:.1f} KiB "
            f"per idle session")

        held = measured["held"]
        if measured["failed"] == 0:
            for total in idle_steps(held, args.max_sessions):
                step = client.command(f"open {total - held}")
                time.sleep(SETTLE_SECONDS)
                state = gateway_state(services)
                step.update(target=total, state=state)
                result["steps"].append(step)
                held = step["held"]
                log(f"ramp: {held} sessions held, {step['failed']} failed, "
                    f"{state['rss'] / 2**20:.0f} MiB, {state['fds']} fds")
                if step["failed"] or not state["alive"]:
                    break
        time.sleep(5)
        result["held_after_wait"] = client.command("status")["held"]
        result["final"] = gateway_state(services)
        client.command("close")
    finally:
        client.finish()
    result["gateway_log_errors"] = count_log_errors(services.gateway_log)
    return result


def count_log_errors(log_path):
    counts = {}
    with open(log_path, encoding="utf-8", errors="replace") as log_file:
        for line in log_file:
            for marker in LOG_MARKERS:
                if marker in line:
                    counts[marker] = counts.get(marker, 0) + 1
    return counts


def run_websockify_sessions(args, services, log):
    services.start_websockify()
    pid = services.websockify.pid
    log_path = services.websockify_log
    client = LoadClient(services, "idle", path_options(services, "websockify"), "load-idle-websockify.log")
    result = {"fd_limit": procstat.fd_limit(pid), "steps": []}
    try:
        result["baseline_pss"] = procstat.tree_pss_bytes(pid)
        held = 0
        steps = [count for count in (100, 250, 500, 750, 1000, 1250) if count < args.websockify_max_sessions]
        for total in steps + [args.websockify_max_sessions]:
            step = client.command(f"open {total - held}")
            time.sleep(SETTLE_SECONDS)
            step.update(target=total, pss=procstat.tree_pss_bytes(pid),
                        processes=len(procstat.process_tree(pid)), fds=procstat.fd_count(pid))
            step["held"] = client.command("status")["held"]
            result["steps"].append(step)
            held = step["held"]
            log(f"websockify: {held} sessions held, {step['failed']} failed, "
                f"{step['pss'] / 2**20:.0f} MiB PSS in {step['processes']} processes")
            if step["failed"] or held < total:
                break
        client.command("close")
    finally:
        client.finish()
        # A new server leaves no child of this phase running.
        services.start_websockify()
    result["log_errors"] = count_log_errors(log_path)
    return result


def run(args):
    command = shlex.join([os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd())
                          else sys.executable, *sys.argv])
    machine = report.describe_machine()
    state_dir = tempfile.mkdtemp(prefix="rdpconsole-gateway-bench-")
    started = time.monotonic()

    def log(text):
        print(f"[{time.monotonic() - started:6.0f} s] {text}", file=sys.stderr, flush=True)

    services = Services(state_dir)
    results = {}
    try:
        services.start()
        log(f"services started in {state_dir}: {services.ports}")
        phases = {
            "throughput": run_throughput, "latency": run_latency, "setup": run_setup,
            "memory": run_memory, "websockify-sessions": run_websockify_sessions,
        }
        for phase in PHASES:
            if phase in args.phases:
                results[phase] = phases[phase](args, services, log)
    finally:
        services.stop()
        if args.keep_state:
            log(f"state kept in {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)
    text = report.format_report(args, machine, results, command)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump({"machine": machine, "results": results}, output)
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except BenchError as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
