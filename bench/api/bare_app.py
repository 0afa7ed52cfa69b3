"""The ceiling of the Compute API benchmark: Starlette endpoints with no application work.

Served by uvicorn with the settings that rdpconsole.service gives the Compute
API: lifespan on, no WebSocket support, no access log, no Server header, and
the default loop and HTTP implementations. The only difference from the
rdpconsole run is the application itself.

    GET /bare            async endpoint, runs in the event loop
    GET /bare-threadpool sync endpoint, which Starlette runs in its thread pool,
                         as the Compute API runs v2.1 requests on PostgreSQL
                         or MySQL, with keystone, and for server lists

Run by bench/api/run.py as ``python bare_app.py --port PORT``; it serves on
127.0.0.1 only and stops on SIGTERM or SIGINT.
"""

import argparse
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

# About the size of a console token lookup's response body.
BODY = {"console": {"instance_uuid": "00000000-0000-0000-0000-000000000000",
                    "host": "127.0.0.1", "port": 3389, "internal_access_path": None}}


async def bare(request):
    return JSONResponse(BODY)


def bare_threadpool(request):
    return JSONResponse(BODY)


app = Starlette(routes=[
    Route("/bare", bare),
    Route("/bare-threadpool", bare_threadpool),
])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1.")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (default 1, as rdpconsole's [api] workers).")
    args = parser.parse_args(argv)

    # uvicorn needs an import string to start worker processes.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run(
        "bare_app:app" if args.workers > 1 else app,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        lifespan="on",
        ws="none",
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
