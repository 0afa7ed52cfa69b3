"""Profile where ``rdpconsole serve`` spends its time under one benchmark load.

Starts the same services as run.py, drives one target with wrk, and samples
the service process with py-spy while the load runs. By default py-spy
samples every thread that is not idle, so time spent inside SQLite and in
socket calls, which release the GIL, counts for the Python frame that made
the call. ``--gil`` samples only the thread that holds the GIL, which shows
Python CPU time alone. Each sample goes to the category of its innermost
frame that belongs to a known package, so a call from rdpconsole into
SQLAlchemy counts as database time and the stdlib helpers a package calls
(inspect, json) count for that package. Prints the share of samples per
category and per rdpconsole function, and an estimate of the CPU
milliseconds each costs per request.

Needs py-spy (``pip install py-spy``) next to this interpreter or on PATH,
and permission to ptrace the service (root, or kernel.yama.ptrace_scope 0).

    python bench/api/profile_service.py --target create --clients 16 --duration 20
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import threading

import run as bench
import wrk_runner

# Categories, by path fragment of a frame's file. A fragment matches at the
# start of a path component (py-spy shows stdlib files relative, such as
# logging/__init__.py). A sample goes to the category of its innermost
# frame that matches one of these.
CATEGORIES = (
    ("logging", ("logging/", "rdpconsole/log.py")),
    ("policy (oslo.policy, policy file search)",
     ("oslo_policy/", "oslo_config/", "oslo_context/", "rdpconsole/policy.py")),
    ("database (SQLAlchemy, sqlite3)", ("sqlalchemy/", "sqlite3/", "rdpconsole/db/")),
    ("JSON Schema validation", ("jsonschema/", "referencing/", "rdpconsole/api/validation.py")),
    ("thread pool hand-off (anyio)", ("anyio/", "starlette/concurrency.py", "queue.py")),
    ("HTTP parsing and writing (uvicorn, h11)", ("uvicorn/", "h11/", "httptools/")),
    ("Starlette request, response, middleware", ("starlette/",)),
    ("rdpconsole code", ("rdpconsole/",)),
    ("event loop (asyncio)", ("asyncio/",)),
)
OTHER = "other"

# Functions whose inclusive share is printed: (function name as py-spy shows
# it, path fragment of its file).
FUNCTIONS = (
    ("FrontEnd.handle", "rdpconsole/api/app.py"),
    ("FrontEnd._send", "rdpconsole/api/app.py"),
    ("FrontEnd._api_sync", "rdpconsole/api/app.py"),
    ("NoAuth2.authenticate", "rdpconsole/api/auth.py"),
    ("is_admin", "rdpconsole/policy.py"),
    ("authorize", "rdpconsole/policy.py"),
    ("Enforcer.load_rules", "oslo_policy/policy.py"),
    ("Enforcer.check", "rdpconsole/policy.py"),
    ("Router.handle", "rdpconsole/api/dispatch.py"),
    ("validate", "rdpconsole/api/validation.py"),
    ("Services.get_server", "rdpconsole/api/controllers/__init__.py"),
    ("ConsoleService.authorize", "rdpconsole/domain/consoles.py"),
    ("ConsoleService.validate", "rdpconsole/domain/consoles.py"),
    ("Logger._log", "logging/__init__.py"),
)

# Innermost frames of threads that wait for work. py-spy counts some of
# these waits as busy, so they are left out of the shares.
WAITING_FRAMES = (
    ("Condition.wait", "threading.py"),
    ("Event.wait", "threading.py"),
    ("Queue.get", "queue.py"),
    ("EpollSelector.select", "selectors.py"),
)

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", default="create", choices=bench.TARGETS,
                        help="Target to drive (default create).")
    parser.add_argument("--clients", type=int, default=16,
                        help="Concurrent wrk connections (default 16).")
    parser.add_argument("--duration", type=int, default=20,
                        help="Seconds of load; sampling skips the first and last 2 s "
                        "(default 20).")
    parser.add_argument("--rate", type=int, default=100,
                        help="py-spy samples per second (default 100).")
    parser.add_argument("--token-pool", type=int, default=500,
                        help="Console tokens issued first, for --target lookup (default 500).")
    parser.add_argument("--gil", action="store_true",
                        help="Sample only the thread that holds the GIL (py-spy --gil).")
    parser.add_argument("--folded", metavar="PATH",
                        help="Also keep py-spy's collapsed stacks (for flamegraph.pl) here.")
    args = parser.parse_args(argv)
    if args.duration < 6:
        parser.error("--duration must be at least 6 seconds")
    return args


def find_py_spy():
    candidate = os.path.join(os.path.dirname(sys.executable), "py-spy")
    path = candidate if os.path.exists(candidate) else shutil.which("py-spy")
    if path is None:
        raise bench.BenchError(
            f"py-spy is not installed; install it with '{sys.executable} -m pip install py-spy'"
        )
    return path


def frame_path(frame):
    match = _FRAME.match(frame)
    return (match.group("function"), match.group("path")) if match else (frame, "")


def path_matches(path, fragment):
    return "/" + fragment in "/" + path


def category_of(frames):
    for frame in reversed(frames):
        _function, path = frame_path(frame)
        for name, fragments in CATEGORIES:
            if any(path_matches(path, fragment) for fragment in fragments):
                return name
    return OTHER


def summarize(folded_path):
    """Return (total samples, samples by category, inclusive samples by FUNCTIONS entry)."""
    total = 0
    by_category = collections.Counter()
    by_function = collections.Counter()
    with open(folded_path, encoding="utf-8") as folded:
        for line in folded:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _space, count = line.rpartition(" ")
            frames = stack.split(";")
            function, path = frame_path(frames[-1])
            if any(function == name and path_matches(path, fragment)
                   for name, fragment in WAITING_FRAMES):
                continue
            samples = int(count)
            total += samples
            by_category[category_of(frames)] += samples
            for function, path in {frame_path(frame) for frame in frames}:
                for name, fragment in FUNCTIONS:
                    if function == name and path_matches(path, fragment):
                        by_function[(name, fragment)] += samples
    return total, by_category, by_function


def profile(args):
    py_spy = find_py_spy()
    wrk_path = wrk_runner.find_wrk()
    rdpconsole = bench.find_rdpconsole()
    token_pool = args.token_pool if args.target == "lookup" else 0
    sample_seconds = args.duration - 4

    with bench.started_services(rdpconsole, 1, token_pool) as services:
        url, request = bench.build_requests([args.target], services)[args.target]
        pid = services.bare_pid if args.target.startswith("bare") else services.serve_pid
        folded_path = args.folded or os.path.join(services.state_dir, "profile.folded")
        outcome = {}

        def drive():
            cpu_before = bench.process_tree_cpu_seconds(pid)
            outcome["result"] = wrk_runner.run(wrk_path, url, request, args.clients,
                                               args.duration, 1, services.state_dir)
            outcome["cpu_seconds"] = bench.process_tree_cpu_seconds(pid) - cpu_before

        load = threading.Thread(target=drive)
        load.start()
        # Let the load settle before sampling, and stop sampling before it ends.
        threading.Event().wait(2)
        # Without --nonblocking py-spy pauses the process for each sample,
        # which costs some throughput but gives whole stacks.
        command = [py_spy, "record", "--pid", str(pid), "--rate", str(args.rate),
                   "--duration", str(sample_seconds), "--format", "raw",
                   "--output", folded_path]
        if args.gil:
            command.append("--gil")
        completed = subprocess.run(command, capture_output=True, text=True)
        load.join()
        if completed.returncode != 0:
            raise bench.BenchError(f"py-spy failed: {completed.stderr.strip()}")
        total, by_category, by_function = summarize(folded_path)

    result = outcome["result"]
    cpu_ms = 1000 * outcome["cpu_seconds"] / result.requests if result.requests else 0.0
    print(f"{args.target} at {args.clients} clients: {result.rate:,.0f} requests/s, "
          f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, {result.errors} errors; "
          f"service CPU {cpu_ms:.2f} ms/request, "
          f"{100 * outcome['cpu_seconds'] / result.duration_s:.0f}% of one CPU")
    kind = "GIL samples" if args.gil else "samples of busy threads"
    print(f"py-spy: {total} {kind} in {sample_seconds} s at {args.rate} per second")
    print()
    print("| Category | Share of samples | Estimated CPU ms/request |")
    print("|---|---:|---:|")
    for name, samples in by_category.most_common():
        share = samples / total if total else 0.0
        print(f"| {name} | {share:.1%} | {share * cpu_ms:.2f} |")
    print()
    print("| Function (inclusive) | Share of samples | Estimated CPU ms/request |")
    print("|---|---:|---:|")
    for name, fragment in FUNCTIONS:
        samples = by_function.get((name, fragment), 0)
        if samples:
            share = samples / total
            print(f"| {name} ({fragment}) | {share:.1%} | {share * cpu_ms:.2f} |")
    if args.folded:
        print(f"\nCollapsed stacks written to {args.folded}")
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return profile(args)
    except (bench.BenchError, wrk_runner.WrkError) as error:
        print(f"bench/api/profile_service.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
