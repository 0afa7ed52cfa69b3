"""HTTP routes of the gateway: the console page, its static files and the health check.

Routes come from a fixed list, and no response is built from the request
path (Nova's open redirect CVE-2021-3654 came from its console proxy
redirecting to a path taken from the request). Paths are matched by their
end, so that a reverse proxy may serve the gateway under a prefix:

- ``GET /healthz``: 200.
- any path ending in ``/ws``: the WebSocket endpoint; a plain HTTP request gets 426.
- any path ending in ``/static/<name>`` for a name in ``static/assets.json``: that file.
- any other path with a ``token`` query parameter: the console page.
- any other path ending in ``/`` without a token: 400 with a hint where console URLs come from.
- everything else: 404. A route's wrong method gets 405 with ``Allow``.
"""

import json
import logging
import os
import time
import urllib.parse

from starlette.responses import FileResponse
from starlette.responses import PlainTextResponse
from starlette.responses import Response

from rdpconsole import log as log_module
from rdpconsole.gateway import origins
from rdpconsole.gateway import tokens

LOG = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MANIFEST_PATH = os.path.join(STATIC_DIR, "assets.json")
# The folder that contains the rdpconsole package: the source tree, or site-packages.
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAGE_NAME = "index.html"

# The console page's Content-Security-Policy, without frame-ancestors, which
# comes from [gateway] frame_ancestors. No inline scripts. The IronRDP web
# client (npm @devolutions/iron-remote-desktop 0.11.0 and -rdp 0.7.0) needs
# 'wasm-unsafe-eval' to compile its WebAssembly, data: in connect-src because
# it fetches its inlined WebAssembly from a data:application/wasm URL, and
# 'unsafe-inline' styles for the <style> element it creates. ws: and wss:
# allow the console WebSocket behind any reverse proxy.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss: data:; "
    "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'"
)

CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".mjs": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Seconds between two log lines about the same missing static file.
MISSING_FILE_LOG_INTERVAL = 60.0

READ_METHODS = ("GET", "HEAD")
ALLOW_READ = ", ".join(READ_METHODS)

NO_TOKEN_TEXT = (
    "This console URL has no token.\n\n"
    "Open the console URL that the dashboard shows, or get one with:\n"
    "  openstack console url show --rdp <server>\n"
)
NOT_FOUND_TEXT = "Not found.\n"
UPGRADE_REQUIRED_TEXT = (
    "This is the console gateway's WebSocket endpoint. Open the console URL from the "
    "dashboard or 'openstack console url show --rdp <server>' in a browser instead.\n"
)
NPM_MISSING_TEXT = "The console's web client files are not installed on the gateway. Ask your cloud operator.\n"


def security_headers(frame_ancestors, page=False):
    """Return the headers of every gateway response; ``page`` adds the console page's policy."""
    headers = {
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if page:
        headers["Cache-Control"] = "no-store"
        headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; frame-ancestors {frame_ancestors}"
    else:
        # Static files revalidate with their ETag, so that a new release is picked up.
        headers["Cache-Control"] = "no-cache"
    return headers


class AssetManifest:
    """Static files by served name, from ``static/assets.json``.

    Each path in the manifest is relative to ``web_client_path`` when that is
    set and the file exists there, else relative to the folder that contains
    the rdpconsole package.
    """

    def __init__(self, files, npm_folder):
        self.files = files
        self.npm_folder = npm_folder
        self._last_missing_log = {}

    @classmethod
    def load(cls, web_client_path=None, manifest_path=MANIFEST_PATH):
        with open(manifest_path, encoding="utf-8") as manifest_file:
            manifest = json.load(manifest_file)
        bases = [path for path in (web_client_path, SOURCE_ROOT) if path]
        files = {}
        for name, relative_path in manifest.items():
            candidates = [os.path.join(base, relative_path) for base in bases]
            files[name] = next((path for path in candidates if os.path.isfile(path)), candidates[0])
        assets = cls(files, web_client_path or SOURCE_ROOT)
        missing = sorted(name for name, path in files.items() if not os.path.isfile(path))
        if missing:
            LOG.warning(
                "Console page files missing: %s. Run 'npm ci' in %s (or set [gateway] "
                "web_client_path to the folder where it ran); until then requests for these files get HTTP 503",
                ", ".join(missing), assets.npm_folder,
            )
        return assets

    def path_of(self, name):
        """Return the file path of a served name, or None for a name not in the manifest."""
        return self.files.get(name)

    def log_missing(self, name, path):
        now = time.monotonic()
        if now - self._last_missing_log.get(name, -MISSING_FILE_LOG_INTERVAL) < MISSING_FILE_LOG_INTERVAL:
            return
        self._last_missing_log[name] = now
        LOG.error("Static file %s is missing (%s): run 'npm ci' in %s, or set [gateway] "
                  "web_client_path to the folder where it ran", name, path, self.npm_folder)


def content_type_of(path):
    return CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), DEFAULT_CONTENT_TYPE)


class HttpRoutes:
    """The gateway's plain HTTP requests."""

    def __init__(self, assets, frame_ancestors, trusted_proxies=()):
        self.assets = assets
        self.trusted_proxies = trusted_proxies
        self.page_headers = security_headers(frame_ancestors, page=True)
        self.file_headers = security_headers(frame_ancestors, page=False)

    async def __call__(self, scope, receive, send):
        response = self.route(scope)
        await response(scope, receive, send)
        status = getattr(response, "status_code", 0)
        path = scope.get("path", "")
        level = logging.DEBUG if path == "/healthz" else logging.INFO
        client = origins.RequestView(scope, self.trusted_proxies).client_address
        LOG.log(level, "%s %s %s %d", client, scope.get("method"), _loggable_target(scope), status)

    def route(self, scope):
        """Return the Starlette response for one HTTP request."""
        path = scope.get("path", "")
        method = scope.get("method", "GET")

        if path == "/healthz":
            return self._read_only(method) or PlainTextResponse("OK\n", headers=self.file_headers)
        if path.endswith("/ws"):
            return self._read_only(method) or PlainTextResponse(
                UPGRADE_REQUIRED_TEXT, status_code=426,
                headers={**self.file_headers, "Upgrade": "websocket", "Connection": "Upgrade"},
            )

        prefix, separator, name = path.rpartition("/static/")
        if separator:
            file_path = self.assets.path_of(name)
            if file_path is None or "/" in name:
                return self._not_found()
            return self._read_only(method) or self._file(scope, name, file_path)

        if tokens.tokens_in_query(scope.get("query_string", b"")):
            return self._read_only(method) or self._page(scope)
        if path.endswith("/"):
            return self._read_only(method) or PlainTextResponse(
                NO_TOKEN_TEXT, status_code=400, headers=self.page_headers,
            )
        return self._not_found()

    def _read_only(self, method):
        """Return a 405 response unless ``method`` is GET or HEAD."""
        if method in READ_METHODS:
            return None
        return PlainTextResponse(
            f"Method {method} not allowed: use {' or '.join(READ_METHODS)}.\n", status_code=405,
            headers={**self.file_headers, "Allow": ALLOW_READ},
        )

    def _not_found(self):
        return PlainTextResponse(NOT_FOUND_TEXT, status_code=404, headers=self.file_headers)

    def _page(self, scope):
        path = self.assets.path_of(PAGE_NAME) or os.path.join(STATIC_DIR, PAGE_NAME)
        return self._file(scope, PAGE_NAME, path, headers=self.page_headers)

    def _file(self, scope, name, path, headers=None):
        headers = headers or (self.page_headers if name.endswith(".html") else self.file_headers)
        try:
            stat = os.stat(path)
        except OSError:
            stat = None
        if stat is None or not os.path.isfile(path):
            self.assets.log_missing(name, path)
            return PlainTextResponse(NPM_MISSING_TEXT, status_code=503, headers=self.file_headers)

        response = FileResponse(path, media_type=content_type_of(path), headers=headers, stat_result=stat)
        if _etag_matches(scope, response.headers["etag"]):
            return Response(status_code=304, headers={**headers, "ETag": response.headers["etag"]})
        return response


def _etag_matches(scope, etag):
    for name, value in scope.get("headers") or []:
        if name == b"if-none-match":
            candidates = [item.strip() for item in value.decode("latin-1").split(",")]
            return etag in candidates or "*" in candidates
    return False


def _loggable_target(scope):
    path = urllib.parse.quote(scope.get("path", ""), safe="/-._~")
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return path
    return log_module.mask_tokens(f"{path}?{query}")
