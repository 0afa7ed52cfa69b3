"""Benchmark the Compute API's console endpoints against a bare Starlette endpoint.

Starts ``rdpconsole serve`` (a real process, SQLite in a temporary state
folder) and bench/api/bare_app.py on free 127.0.0.1 ports, then drives each
target with wrk at each client count for a fixed time:

- ``create``: POST /v2.1/servers/{id}/remote-consoles at microversion 2.6;
- ``create-legacy``: POST /v2.1/servers/{id}/action os-getRDPConsole at 2.1;
- ``lookup``: GET /v2.1/os-console-auth-tokens/{token} as admin, cycling
  through a pool of tokens issued before the run;
- ``bare``: an async Starlette endpoint returning a small JSON body, the ceiling;
- ``bare-threadpool``: the same as a sync endpoint, which Starlette runs in
  its thread pool. The Compute API uses that pool on PostgreSQL or MySQL,
  with keystone, and for server lists. On SQLite with noauth2, as here,
  console requests run in the event loop.

Targets run interleaved at each client count, so each ratio to ``bare``
compares points measured seconds apart. Prints a Markdown report (machine,
settings, table) and writes it to --output when given.

    python bench/api/run.py --duration 10 --output /tmp/api-bench.md
"""

import argparse
import contextlib
import dataclasses
import datetime
import http.client
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

import wrk_runner

HERE = os.path.dirname(os.path.abspath(__file__))
BARE_APP = os.path.join(HERE, "bare_app.py")

PROJECT_ID = "bench-project"
USER_TOKEN = f"bench-user:{PROJECT_ID}"
ADMIN_TOKEN = "admin:admin"
CREATE_BODY = '{"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}'
LEGACY_BODY = '{"os-getRDPConsole": {"type": "rdp-html5"}}'

TARGETS = ("bare", "bare-threadpool", "create", "create-legacy", "lookup")
DEFAULT_TARGETS = TARGETS
# Seconds a service gets to start responding, and to stop after SIGTERM.
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20

PACKAGES = ("rdpconsole", "starlette", "uvicorn", "h11", "httptools", "uvloop", "anyio",
            "SQLAlchemy", "jsonschema", "oslo.policy", "oslo.config", "oslo.context")


class BenchError(Exception):
    """The benchmark could not run: a missing tool, a service that did not start."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark the Compute API's console endpoints with wrk, on SQLite, "
        "against a bare Starlette endpoint served the same way.",
    )
    parser.add_argument("--duration", type=int, default=10,
                        help="Seconds of load per point (default 10).")
    parser.add_argument("--warmup", type=int, default=2,
                        help="Seconds of unrecorded load per target before the first point "
                        "(default 2; 0 skips it).")
    parser.add_argument("--clients", default="1,16,64",
                        help="Comma-separated concurrent connection counts (default 1,16,64).")
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                        help=f"Comma-separated targets among {', '.join(TARGETS)} "
                        "(default all). 'bare' is needed for the ratio column.")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads, capped at the client count (default 1).")
    parser.add_argument("--workers", type=int, default=1,
                        help="[api] workers of rdpconsole and uvicorn workers of the bare app "
                        "(default 1).")
    parser.add_argument("--token-pool", type=int, default=500,
                        help="Console tokens issued before the lookup points (default 500).")
    parser.add_argument("--output", metavar="PATH",
                        help="Also write the Markdown report to this file.")
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    parser.add_argument("--keep-state", action="store_true",
                        help="Keep the temporary folder with the configuration, database and "
                        "service logs, and print its path.")
    args = parser.parse_args(argv)

    args.clients = [int(value) for value in args.clients.split(",") if value.strip()]
    if not args.clients or min(args.clients) < 1:
        parser.error(f"--clients needs positive integers, got {args.clients!r}")
    args.targets = [value.strip() for value in args.targets.split(",") if value.strip()]
    unknown = [target for target in args.targets if target not in TARGETS]
    if unknown:
        parser.error(f"unknown --targets {', '.join(unknown)}; choose among {', '.join(TARGETS)}")
    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    return args


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_rdpconsole():
    """Return the rdpconsole console script of the interpreter that runs this script."""
    path = os.path.join(os.path.dirname(sys.executable), "rdpconsole")
    if not os.path.exists(path):
        raise BenchError(
            f"{path} does not exist; install rdpconsole into this environment with "
            f"'{sys.executable} -m pip install -e <repository>'"
        )
    return path


def write_config(state_dir, api_port, gateway_port, workers):
    path = os.path.join(state_dir, "rdpconsole.conf")
    with open(path, "w", encoding="utf-8") as config:
        config.write(
            "[DEFAULT]\n"
            f"state_path = {state_dir}\n"
            "[api]\n"
            "listen = 127.0.0.1\n"
            f"port = {api_port}\n"
            f"workers = {workers}\n"
            "[gateway]\n"
            "listen = 127.0.0.1\n"
            f"port = {gateway_port}\n"
            "[rdp]\n"
            f"html5_proxy_base_url = http://127.0.0.1:{gateway_port}/\n"
            "[consoleauth]\n"
            # Tokens of the pool must outlive every lookup point.
            "token_ttl = 86400\n"
        )
    return path


def create_server(rdpconsole, config_path):
    completed = subprocess.run(
        [rdpconsole, "server", "create", "--config-file", config_path,
         "--name", "bench", "--project-id", PROJECT_ID, "--user-id", "bench-user",
         "--console-host", "127.0.0.1", "--compute-host", "bench-host"],
        capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise BenchError(f"'rdpconsole server create' failed: {completed.stderr.strip()}")
    return json.loads(completed.stdout)["id"]


def start_process(argv, log_path):
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_serving(process, port, path, log_path):
    """Wait until GET ``path`` on ``port`` returns 200; raise BenchError if it never does."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{process.args[0]} exited with status {process.returncode}; "
                             f"log:\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        time.sleep(0.1)
    raise BenchError(f"no HTTP 200 response from 127.0.0.1:{port}{path} within "
                     f"{START_TIMEOUT_SECONDS} s; "
                     f"log:\n{tail(log_path)}")


def stop_process(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path, lines=20):
    with open(path, encoding="utf-8", errors="replace") as log:
        return "".join(log.readlines()[-lines:])


def process_tree_cpu_seconds(pid):
    """Return user+system CPU seconds of ``pid`` and its child processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _parent_pid(entry) == pid:
                pids.append(int(entry))
    for member in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{member}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            # utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3.
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy_cpu_seconds():
    """Return the CPU seconds all CPUs spent busy since boot (not idle, not waiting on I/O)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...; guest time is already in user.
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _parent_pid(entry):
    try:
        with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def issue_tokens(api_port, server_id, count):
    """Issue ``count`` console tokens over one keep-alive connection and return them."""
    connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
    headers = {"X-Auth-Token": USER_TOKEN, "X-OpenStack-Nova-API-Version": "2.6",
               "Content-Type": "application/json"}
    tokens = []
    try:
        for _ in range(count):
            connection.request("POST", f"/v2.1/servers/{server_id}/remote-consoles",
                               body=CREATE_BODY, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise BenchError(f"issuing a token returned {response.status}: {body[:300]!r}")
            url = json.loads(body)["remote_console"]["url"]
            tokens.append(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0])
    finally:
        connection.close()
    return tokens


def build_requests(targets, services):
    """Return the URL and wrk request of each target, by target name."""
    api = f"http://127.0.0.1:{services.api_port}"
    bare = f"http://127.0.0.1:{services.bare_port}"
    server_id = services.server_id
    json_headers = {"Content-Type": "application/json", "X-Auth-Token": USER_TOKEN}
    requests = {
        "bare": (f"{bare}/bare", wrk_runner.Request()),
        "bare-threadpool": (f"{bare}/bare-threadpool", wrk_runner.Request()),
        "create": (
            f"{api}/v2.1/servers/{server_id}/remote-consoles",
            wrk_runner.Request(method="POST", body=CREATE_BODY,
                               headers={**json_headers, "X-OpenStack-Nova-API-Version": "2.6"}),
        ),
        "create-legacy": (
            f"{api}/v2.1/servers/{server_id}/action",
            wrk_runner.Request(method="POST", body=LEGACY_BODY,
                               headers={**json_headers, "X-OpenStack-Nova-API-Version": "2.1"}),
        ),
        "lookup": (
            f"{api}/v2.1/os-console-auth-tokens/",
            wrk_runner.Request(headers={"X-Auth-Token": ADMIN_TOKEN},
                               path_prefix="/v2.1/os-console-auth-tokens/",
                               suffix_file=services.token_file),
        ),
    }
    return {target: requests[target] for target in targets}


def describe_machine(wrk_path, rdpconsole):
    info = {}
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["nproc"] = len(os.sched_getaffinity(0))

    info["cpu"] = "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break

    info["memory"] = "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break

    info["kernel"] = platform.release()
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["sqlite"] = sqlite3.sqlite_version
    info["wrk"] = wrk_runner.wrk_version(wrk_path)

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    info["packages"] = versions
    # uvicorn's "auto" picks uvloop and httptools when they are importable.
    info["loop"] = "uvloop" if versions["uvloop"] else "asyncio"
    info["http"] = "httptools" if versions["httptools"] else "h11"

    with open(rdpconsole, "rb") as script:
        info["rdpconsole_interpreter"] = script.readline().decode("utf-8", "replace")[2:].strip()
    return info


def run_points(args, wrk_path, requests, server_pid, bare_pid, script_dir):
    results = []
    if args.warmup:
        for target, (url, request) in requests.items():
            wrk_runner.run(wrk_path, url, request, 16, args.warmup, args.wrk_threads, script_dir)

    for clients in args.clients:
        for target, (url, request) in requests.items():
            pid = bare_pid if target.startswith("bare") else server_pid
            cpu_before = process_tree_cpu_seconds(pid)
            machine_before = machine_busy_cpu_seconds()
            result = wrk_runner.run(wrk_path, url, request, clients, args.duration,
                                    args.wrk_threads, script_dir)
            server_cpu = process_tree_cpu_seconds(pid) - cpu_before
            machine_cpu = machine_busy_cpu_seconds() - machine_before
            generator_cpu = result.generator_cpu_percent * result.duration_s / 100
            results.append({
                "target": target,
                "result": result,
                "server_cpu_percent": 100 * server_cpu / result.duration_s,
                "server_cpu_ms_per_request": (
                    1000 * server_cpu / result.requests if result.requests else None),
                # CPUs kept busy by anything but the measured server and wrk.
                "other_load_cpus": max(0.0, machine_cpu - server_cpu - generator_cpu)
                / result.duration_s,
            })
            print(f"  {target:16} {clients:3} clients: {result.rate:8.0f} req/s, "
                  f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                  f"{result.errors} errors", file=sys.stderr, flush=True)
    return results


def format_report(args, info, results, command):
    bare = {entry["result"].clients: entry for entry in results if entry["target"] == "bare"}
    packages = ", ".join(f"{name} {version}" for name, version in info["packages"].items()
                         if version)
    lines = [
        f"- Command: `{command}`",
        f"- Date: {info['date']}",
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, "
        f"Linux {info['kernel']}",
        f"- Software: {info['python']}, SQLite {info['sqlite']}, wrk {info['wrk']}; {packages}",
        f"- Service: `rdpconsole serve`, {args.workers} API worker process"
        f"{'es' if args.workers > 1 else ''}, uvicorn loop {info['loop']}, "
        f"HTTP {info['http']}, SQLite database in a temporary folder; "
        f"the bare app is served the same way",
        f"- Load: wrk, {args.duration} s per point, {args.warmup} s warm-up per target, "
        f"{args.wrk_threads} wrk thread(s); lookups cycle through {args.token_pool} tokens",
        "",
        "| Target | Clients | Requests/s | p50 ms | p99 ms | Errors | Rate ratio to bare "
        "| CPU ms/request | CPU ratio to bare | Server CPU % | wrk CPU % | Other load (CPUs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results:
        result = entry["result"]
        reference = bare.get(result.clients)
        rate_ratio = cpu_ratio = "n/a"
        if reference and reference["result"].rate:
            rate_ratio = f"{result.rate / reference['result'].rate:.1%}"
        cost = entry["server_cpu_ms_per_request"]
        cost_text = "n/a" if cost is None else f"{cost:.2f}"
        if reference and reference["server_cpu_ms_per_request"] and cost:
            cpu_ratio = f"{reference['server_cpu_ms_per_request'] / cost:.1%}"
        lines.append(
            f"| {entry['target']} | {result.clients} | {result.rate:,.0f} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | {rate_ratio} | "
            f"{cost_text} | {cpu_ratio} | {entry['server_cpu_percent']:.0f} | "
            f"{result.generator_cpu_percent:.0f} | {entry['other_load_cpus']:.2f} |"
        )
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Services:
    """The running rdpconsole service and bare app of one benchmark run."""

    state_dir: str
    api_port: int
    bare_port: int
    server_id: str
    serve_pid: int
    bare_pid: int
    token_file: str


@contextlib.contextmanager
def started_services(rdpconsole, workers, token_pool, keep_state=False):
    """Start ``rdpconsole serve`` and the bare app on free ports; stop them on exit.

    Creates one server owned by PROJECT_ID and, when ``token_pool`` is
    positive, issues that many console tokens into Services.token_file.
    """
    state_dir = tempfile.mkdtemp(prefix="rdpconsole-api-bench-")
    processes = []
    try:
        api_port, gateway_port, bare_port = free_port(), free_port(), free_port()
        config_path = write_config(state_dir, api_port, gateway_port, workers)
        server_id = create_server(rdpconsole, config_path)

        serve_log = os.path.join(state_dir, "serve.log")
        serve = start_process([rdpconsole, "serve", "--config-file", config_path], serve_log)
        processes.append(serve)
        bare_log = os.path.join(state_dir, "bare.log")
        bare = start_process([sys.executable, BARE_APP, "--port", str(bare_port),
                              "--workers", str(workers)], bare_log)
        processes.append(bare)
        wait_until_serving(serve, api_port, "/v2.1", serve_log)
        wait_until_serving(bare, bare_port, "/bare", bare_log)
        print(f"rdpconsole serve pid {serve.pid} on 127.0.0.1:{api_port}, bare app pid "
              f"{bare.pid} on 127.0.0.1:{bare_port}", file=sys.stderr, flush=True)

        token_file = os.path.join(state_dir, "tokens.txt")
        if token_pool > 0:
            tokens = issue_tokens(api_port, server_id, token_pool)
            with open(token_file, "w", encoding="ascii") as pool:
                pool.write("\n".join(tokens) + "\n")

        yield Services(state_dir, api_port, bare_port, server_id, serve.pid, bare.pid,
                       token_file)
    finally:
        for process in reversed(processes):
            stop_process(process)
        if keep_state:
            print(f"State, configuration and logs kept in {state_dir}", file=sys.stderr)
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


def run(args):
    wrk_path = wrk_runner.find_wrk()
    rdpconsole = find_rdpconsole()
    command = " ".join(shlex.quote(part) for part in
                       [sys.executable, os.path.relpath(sys.argv[0])] + sys.argv[1:])
    token_pool = args.token_pool if "lookup" in args.targets else 0
    with started_services(rdpconsole, args.workers, token_pool, args.keep_state) as services:
        requests = build_requests(args.targets, services)
        info = describe_machine(wrk_path, rdpconsole)
        results = run_points(args, wrk_path, requests, services.serve_pid, services.bare_pid,
                             services.state_dir)

    report = format_report(args, info, results, command)
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump({"machine": info, "workers": args.workers, "duration_s": args.duration,
                       "results": [{**{key: value for key, value in entry.items()
                                       if key != "result"},
                                    **dataclasses.asdict(entry["result"]),
                                    "rate": entry["result"].rate}
                                   for entry in results]},
                      output, indent=2)
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except (BenchError, wrk_runner.WrkError) as error:
        print(f"bench/api/run.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
