"""Measure the Compute API's own CPU time per request, without an HTTP server.

Builds the application with ``rdpconsole.api.app.create_app`` on a temporary
SQLite database, runs its lifespan, and calls it as an ASGI application from
one event loop with the same requests as run.py's ``create``,
``create-legacy`` and ``lookup`` targets, one at a time. Prints the process
CPU time per request, which leaves out uvicorn, h11 and the sockets, so
changes inside rdpconsole show without the noise of a load generator.
``--profile`` also prints cProfile's top functions.

    python bench/api/inprocess.py --target create --requests 10000
"""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time

from oslo_config import cfg

from rdpconsole import log
from rdpconsole.api import app as app_module
from rdpconsole.conf import loading
from rdpconsole.conf import opts as conf_opts
from rdpconsole.db import api as db_api
from rdpconsole.domain import servers as servers_module

TARGETS = ("create", "create-legacy", "lookup")
WARMUP_REQUESTS = 200
TOKEN_POOL = 200


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", default="create", choices=TARGETS,
                        help="Request to repeat (default create).")
    parser.add_argument("--requests", type=int, default=10000,
                        help="Measured requests, after %d unmeasured ones (default 10000)."
                        % WARMUP_REQUESTS)
    parser.add_argument("--profile", action="store_true",
                        help="Also print the 40 functions with the most cProfile time.")
    return parser.parse_args(argv)


def load_conf(state_dir):
    conf = cfg.ConfigOpts()
    for group, group_opts in conf_opts.list_opts():
        conf.register_opts(group_opts, group=None if group == "DEFAULT" else group)
    path = os.path.join(state_dir, "rdpconsole.conf")
    with open(path, "w", encoding="utf-8") as config:
        config.write(f"[DEFAULT]\nstate_path = {state_dir}\n"
                     "[consoleauth]\ntoken_ttl = 86400\n"
                     "[rdp]\nhtml5_proxy_base_url = http://127.0.0.1:6083/\n")
    loading.load(conf, [path])
    return conf


def http_scope(method, path, headers):
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8774),
    }


async def call(app, method, path, headers, body=b""):
    """Send one request to ``app`` and return (status, body)."""
    received = False

    async def receive():
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    messages = []

    async def send(message):
        messages.append(message)

    await app(http_scope(method, path, headers), receive, send)
    return messages[0]["status"], messages[1]["body"]


def request_factory(target, server_id):
    """Return a function of a token pool and an index that builds the index-th request."""
    host = (b"host", b"127.0.0.1:8774")
    user = (b"x-auth-token", b"bench-user:bench-project")
    if target == "lookup":
        admin = [host, (b"x-auth-token", b"admin:admin")]
        return lambda tokens, index: (
            "GET", f"/v2.1/os-console-auth-tokens/{tokens[index % len(tokens)]}", admin, b"")

    if target == "create":
        body = b'{"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}'
        path, version = f"/v2.1/servers/{server_id}/remote-consoles", b"2.6"
    else:
        body = b'{"os-getRDPConsole": {"type": "rdp-html5"}}'
        path, version = f"/v2.1/servers/{server_id}/action", b"2.1"
    headers = [host, (b"content-type", b"application/json"), user,
               (b"x-openstack-nova-api-version", version),
               (b"content-length", str(len(body)).encode())]
    return lambda tokens, index: ("POST", path, headers, body)


async def lifespan(stage, queue, replies):
    await queue.put({"type": f"lifespan.{stage}"})
    reply = await replies.get()
    if not reply["type"].endswith(".complete"):
        raise RuntimeError(f"lifespan {stage} failed: {reply}")


async def measure(args, app, server_id):
    queue, replies = asyncio.Queue(), asyncio.Queue()
    lifespan_task = asyncio.create_task(app(
        {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, replies.put))
    await lifespan("startup", queue, replies)

    tokens = []
    create = request_factory("create", server_id)
    for index in range(TOKEN_POOL if args.target == "lookup" else 0):
        status, body = await call(app, *create(tokens, index))
        tokens.append(json.loads(body)["remote_console"]["url"].rsplit("token=", 1)[1])

    build = request_factory(args.target, server_id)
    status, body = await call(app, *build(tokens, 0))
    if status != 200:
        raise RuntimeError(f"{args.target} returned {status}: {body[:300]!r}")
    for index in range(WARMUP_REQUESTS):
        await call(app, *build(tokens, index))

    profiler = cProfile.Profile() if args.profile else None
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for index in range(args.requests):
        await call(app, *build(tokens, index))
        # Let the application's background tasks (WAL checkpoints) run, as between requests of a server.
        await asyncio.sleep(0)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - cpu_started
    wall = time.perf_counter() - wall_started

    await lifespan("shutdown", queue, replies)
    await lifespan_task
    print(f"{args.target}: {1000 * cpu / args.requests:.3f} ms CPU per request, "
          f"{1000 * wall / args.requests:.3f} ms wall, {args.requests} requests")
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(40)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rdpconsole-api-inprocess-") as state_dir:
        conf = load_conf(state_dir)
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            log.setup(stream=devnull)
            database = db_api.Database(f"sqlite:///{os.path.join(state_dir, 'rdpconsole.sqlite')}")
            database.upgrade()
            server = servers_module.ServerRepository(database.sessionmaker).create(
                name="bench", project_id="bench-project", user_id="bench-user",
                console_host="127.0.0.1", host="bench-host",
            )
            app = app_module.create_app(conf, database=database)
            try:
                asyncio.run(measure(args, app, server.uuid))
            finally:
                database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
