"""A minimal RDCleanPath gateway for page tests: serves the console page and relays to a fixed RDP target.

Test helper only. It lets the page be tested against replies that the real
gateway sends rarely (HTTP 429, 501, socket errors, negotiation failures),
and it records the RDCleanPath requests it receives. It does no Origin
check, no TLS verification and no token expiry.
"""

import asyncio
import json
import os
import ssl
import threading
import urllib.parse

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS_MANIFEST = os.path.join(REPO_ROOT, "rdpconsole", "gateway", "static", "assets.json")

RDCLEANPATH_VERSION = 3390
GENERAL_ERROR = 1
NEGOTIATION_ERROR = 2
MAX_REQUEST_BYTES = 64 * 1024
TPKT_HEADER_BYTES = 4
TPKT_VERSION = 3
# fpOutputHeader action bits of a fast-path update PDU (MS-RDPBCGR 2.2.9.1.2).
FASTPATH_ACTION_MASK = 0x03
FASTPATH_ACTION = 0x00

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

# The policy from the gateway's specification plus what the IronRDP web client
# needs: 'unsafe-inline' styles and data: for its inlined WebAssembly fetch.
DEFAULT_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss: data:; "
               "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'")


# --- DER (X.690), just enough for RDCleanPath --------------------------------------------------------------

def der_tlv(tag, content):
    length = len(content)
    if length < 0x80:
        encoded_length = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded_length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + encoded_length + content


def der_integer(value):
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return der_tlv(0x02, raw)


def der_explicit(number, inner):
    return der_tlv(0xA0 | number, inner)


def der_read_tlv(data, offset):
    """Return (tag, content, next_offset) of the TLV at `offset`, or None if `data` is incomplete."""
    if len(data) < offset + 2:
        return None
    tag = data[offset]
    first = data[offset + 1]
    header = 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if len(data) < offset + 2 + count:
            return None
        length = int.from_bytes(data[offset + 2:offset + 2 + count], "big")
        header += count
    end = offset + header + length
    if len(data) < end:
        return None
    return tag, data[offset + header:end], end


def decode_request(data):
    """Return the RDCleanPath request fields as {tag number: inner TLV content}."""
    tag, content, _ = der_read_tlv(data, 0)
    if tag != 0x30:
        raise ValueError(f"RDCleanPath PDU starts with tag {tag:#x}, expected SEQUENCE")
    fields = {}
    offset = 0
    while offset < len(content):
        field_tag, field_content, offset = der_read_tlv(content, offset)
        _, inner, _ = der_read_tlv(field_content, 0)
        fields[field_tag & 0x1F] = inner
    return fields


def error_pdu(error_code=GENERAL_ERROR, http_status=None, wsa_error=None, tls_alert=None, x224=None):
    error = der_explicit(0, der_integer(error_code))
    if http_status is not None:
        error += der_explicit(1, der_integer(http_status))
    if wsa_error is not None:
        error += der_explicit(2, der_integer(wsa_error))
    if tls_alert is not None:
        error += der_explicit(3, der_integer(tls_alert))
    body = der_explicit(0, der_integer(RDCLEANPATH_VERSION)) + der_explicit(1, der_tlv(0x30, error))
    if x224 is not None:
        body += der_explicit(6, der_tlv(0x04, x224))
    return der_tlv(0x30, body)


def response_pdu(x224_confirm, certificate, server_addr):
    chain = der_tlv(0x30, der_tlv(0x04, certificate))
    body = (der_explicit(0, der_integer(RDCLEANPATH_VERSION))
            + der_explicit(6, der_tlv(0x04, x224_confirm))
            + der_explicit(7, chain)
            + der_explicit(9, der_tlv(0x0C, server_addr.encode())))
    return der_tlv(0x30, body)


def split_pdus(pending):
    """Remove and return the complete RDP PDUs at the start of `pending` (a bytearray).

    The IronRDP web client (@devolutions/iron-remote-desktop-rdp 0.7.0) drops
    whatever follows the Server Font Map PDU (MS-RDPBCGR 2.2.1.22) in the same
    WebSocket message, which ends the session with a decode error when part of
    the next PDU is there. Sending one whole PDU per message avoids that. Only
    TPKT (slow-path) and fast-path PDUs occur with a TLS-only server; any
    other first byte is sent on as it is.
    """
    pdus = []
    while len(pending) >= 4:
        if pending[0] == TPKT_VERSION:
            length = int.from_bytes(pending[2:4], "big")
        elif pending[0] & FASTPATH_ACTION_MASK == FASTPATH_ACTION:
            length = pending[1]
            if length & 0x80:
                length = (length & 0x7F) << 8 | pending[2]
        else:
            length = len(pending)
        if length < 4:
            length = len(pending)
        if len(pending) < length:
            break
        pdus.append(bytes(pending[:length]))
        del pending[:length]
    return pdus


# --- The gateway ---------------------------------------------------------------------------------------------

class StubGateway:
    """Serve the console page on 127.0.0.1 and reply to every WebSocket with `reply(token)`.

    `reply` returns either ("relay", host, port) or ("error", {error_pdu keyword arguments}).
    Requests received are appended to `requests` as dicts with `proxy_auth` and `destination`.
    With `reject_websocket` set, every WebSocket handshake is answered with HTTP 403, as a
    gateway does for a bad Origin.
    """

    def __init__(self, reply, csp=DEFAULT_CSP):
        self.reply = reply
        self.csp = csp
        self.requests = []
        self.reject_websocket = False
        self.port = None
        self._sessions = set()
        self._loop = None
        self._thread = None
        self._stop = None
        with open(ASSETS_MANIFEST, encoding="utf-8") as manifest:
            self.assets = json.load(manifest)

    def start(self):
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("stub gateway did not start within 10 s")
        return self

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def close_sessions(self):
        """Close every relayed session from the gateway side, as a gateway does on a timeout."""
        async def close_all():
            for websocket in list(self._sessions):
                await websocket.close(1001, "session closed by the gateway")

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)

    def url(self, path="/", **query):
        return f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(query)}"

    def _run(self, started):
        asyncio.run(self._main(started))

    async def _main(self, started):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._relay, "127.0.0.1", 0, process_request=self._http, compression=None,
                         max_size=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            await self._stop.wait()

    def _http(self, connection, request):
        path, _, query = request.path.partition("?")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if self.reject_websocket:
                return connection.respond(403, "forbidden\n")
            return None if path.endswith("/ws") else connection.respond(404, "not found\n")

        name = path.rsplit("/", 1)[-1]
        if path.endswith(f"/static/{name}") and name in self.assets and name != "index.html":
            return self._file(self.assets[name])
        if "token" in urllib.parse.parse_qs(query, keep_blank_values=True):
            return self._file(self.assets["index.html"])
        return connection.respond(404, "not found\n")

    def _file(self, relative_path):
        with open(os.path.join(REPO_ROOT, relative_path), "rb") as source:
            body = source.read()
        headers = Headers()
        headers["Content-Type"] = CONTENT_TYPES[os.path.splitext(relative_path)[1]]
        headers["Content-Length"] = str(len(body))
        headers["Cache-Control"] = "no-store"
        headers["Content-Security-Policy"] = self.csp
        return Response(200, "OK", headers, body)

    async def _relay(self, websocket):
        data = b""
        while der_read_tlv(data, 0) is None and len(data) <= MAX_REQUEST_BYTES:
            try:
                data += await websocket.recv()
            except ConnectionClosed:
                return
        fields = decode_request(data)
        self.requests.append({
            "proxy_auth": fields.get(3, b"").decode(),
            "destination": fields.get(2, b"").decode(),
            "has_x224": 6 in fields,
        })

        reply = self.reply(self.requests[-1]["proxy_auth"])
        if reply[0] == "error":
            await websocket.send(error_pdu(**reply[1]))
            await websocket.close()
            return

        _, host, port = reply
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except ConnectionRefusedError:
            await websocket.send(error_pdu(wsa_error=10061))
            await websocket.close()
            return

        writer.write(fields[6])
        header = await reader.readexactly(TPKT_HEADER_BYTES)
        confirm = header + await reader.readexactly(int.from_bytes(header[2:4], "big") - TPKT_HEADER_BYTES)

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        await writer.start_tls(context)
        certificate = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        await websocket.send(response_pdu(confirm, certificate, f"{host}:{port}"))

        async def browser_to_server():
            try:
                async for message in websocket:
                    writer.write(message)
                    await writer.drain()
            except ConnectionClosed:
                pass

        async def server_to_browser():
            pending = bytearray()
            try:
                while chunk := await reader.read(65536):
                    pending += chunk
                    for pdu in split_pdus(pending):
                        await websocket.send(pdu)
            except (ConnectionClosed, ConnectionError):
                pass

        tasks = [asyncio.create_task(browser_to_server()), asyncio.create_task(server_to_browser())]
        self._sessions.add(websocket)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sessions.discard(websocket)
            for task in tasks:
                task.cancel()
            writer.close()
            await websocket.close()
