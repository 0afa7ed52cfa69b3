"""The console gateway's RDCleanPath protocol, against a real gateway process.

Each test starts the gateway under uvicorn in a subprocess on a free loopback
port (``rdpconsole.gateway.app.run``), with a SQLite database that the test
fills through the domain layer. RDP servers are FreeRDP's shadow server on
Xvfb, or small asyncio servers in this file that play one step of an RDP
server's connection sequence (or fail it on purpose). The client is the
``websockets`` library sending hand-built RDCleanPath requests.
"""

import asyncio
import contextlib
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidStatus

from rdpconsole.db.api import Database
from rdpconsole.domain.consoles import ConsoleService
from rdpconsole.domain.consoles import hash_token
from rdpconsole.domain.servers import ServerRepository
from rdpconsole.wire import rdcleanpath
from rdpconsole.wire import x224

PYTHON = sys.executable
THIS_FILE = os.path.abspath(__file__)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(THIS_FILE)))

# Seconds the gateway gets to respond to GET /healthz after it starts.
START_TIMEOUT_SECONDS = 30
# Seconds any single network step of a test may take.
STEP_TIMEOUT_SECONDS = 10

GATEWAY_RUNNER = """
import sys
from rdpconsole import conf, log
from rdpconsole.conf import loading
loading.load(conf.CONF, sys.argv[1:])
log.setup(debug=conf.CONF.debug)
from rdpconsole.gateway import app
app.run(conf.CONF)
"""


def run(coroutine):
    return asyncio.run(coroutine)


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


# --- Certificates ---------------------------------------------------------------------------------------


class Certificate:
    """A PEM certificate and key on disk, and the certificate's DER bytes."""

    def __init__(self, cert_path, key_path, der):
        self.cert_path = cert_path
        self.key_path = key_path
        self.der = der

    @property
    def sha256(self):
        return hashlib.sha256(self.der).hexdigest()

    def server_context(self, **options):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        for name, value in options.items():
            setattr(context, name, value)
        return context


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_certificate(folder, name, certificate, key):
    from cryptography.hazmat.primitives import serialization

    cert_path = os.path.join(folder, f"{name}.crt")
    key_path = os.path.join(folder, f"{name}.key")
    with open(cert_path, "wb") as cert_file:
        cert_file.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as key_file:
        key_file.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
    return Certificate(cert_path, key_path, certificate.public_bytes(serialization.Encoding.DER))


def make_certificates(folder):
    """Create a CA, a server certificate it signs for 127.0.0.1 and ::1, and a self-signed one for the same."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))

    def build(subject_name, issuer_name, public_key, signing_key, is_ca, alt_names):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    # IP addresses only: a console host named "localhost" then fails the host name check.
    addresses = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]

    ca_key = _new_key()
    ca = build("rdpconsole test CA", "rdpconsole test CA", ca_key.public_key(), ca_key, True, None)
    server_key = _new_key()
    server = build("rdp-test", "rdpconsole test CA", server_key.public_key(), ca_key, False, addresses)
    other_key = _new_key()
    other = build("rdp-self-signed", "rdp-self-signed", other_key.public_key(), other_key, False, addresses)

    return {
        "ca": _write_certificate(folder, "ca", ca, ca_key),
        "server": _write_certificate(folder, "server", server, server_key),
        "self_signed": _write_certificate(folder, "self-signed", other, other_key),
    }


# --- Fake RDP servers -----------------------------------------------------------------------------------


class FakeRdpServer:
    """A loopback server that plays an RDP server's connection sequence, in a thread of its own.

    Behaviours: ``echo`` (X.224 Confirm, TLS, then echo every byte), ``idle``
    (TLS, then wait), ``stream`` (TLS, then send ``stream_size`` bytes and
    close), ``silent`` (never reply to the X.224 request), ``no_tls`` (reply to
    X.224, then never start TLS), ``negotiation_failure`` (RDP_NEG_FAILURE),
    ``garbage`` (a non-TPKT answer), ``handshake_failure`` (a TLS alert in
    reply to the ClientHello), ``close`` (close at once).
    """

    def __init__(self, certificate, behaviour="echo", host="127.0.0.1", stream_size=0):
        self.certificate = certificate
        self.behaviour = behaviour
        self.host = host
        self.stream_size = stream_size
        self.port = None
        self.accepted = 0
        self.x224_requests = []
        self.received = bytearray()
        self._loop = None
        self._stop = None
        self._thread = None
        self._context = self._tls_context()

    def _tls_context(self):
        return self.certificate.server_context()

    def start(self):
        started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(started)), daemon=True)
        self._thread.start()
        if not started.wait(STEP_TIMEOUT_SECONDS):
            raise RuntimeError("fake RDP server did not start")
        return self

    def stop(self):
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(STEP_TIMEOUT_SECONDS)

    async def _main(self, started):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader, writer):
        self.accepted += 1
        try:
            await self._play(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    async def _play(self, reader, writer):
        if self.behaviour == "close":
            return
        header = await reader.readexactly(x224.TPKT_HEADER_SIZE)
        length = x224.read_tpkt_length(header)
        self.x224_requests.append(header + await reader.readexactly(length - x224.TPKT_HEADER_SIZE))

        if self.behaviour == "silent":
            await reader.read()
            return
        if self.behaviour == "garbage":
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            await reader.read()
            return
        if self.behaviour == "negotiation_failure":
            writer.write(x224.build_negotiation_failure(x224.FailureCode.HYBRID_REQUIRED_BY_SERVER))
            await reader.read()
            return

        writer.write(x224.build_connection_confirm(x224.Protocol.SSL))
        await writer.drain()
        if self.behaviour == "no_tls":
            await reader.read()
            return
        if self.behaviour == "handshake_failure":
            # Read the ClientHello record, then reply with a fatal handshake_failure alert
            # (RFC 8446 section 6: record type 21, TLS 1.2 record version, level 2, code 40).
            record_header = await reader.readexactly(5)
            await reader.readexactly(int.from_bytes(record_header[3:5], "big"))
            writer.write(bytes([21, 3, 3, 0, 2, 2, 40]))
            await writer.drain()
            return

        await writer.start_tls(self._context)
        if self.behaviour == "echo":
            while chunk := await reader.read(65536):
                self.received += chunk
                writer.write(chunk)
                await writer.drain()
        elif self.behaviour == "stream":
            block = os.urandom(64 * 1024)
            sent = 0
            while sent < self.stream_size:
                piece = block[:min(len(block), self.stream_size - sent)]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
        else:
            await reader.read()


class BlackholeListener:
    """A listening socket whose accept queue is full, so that further connects hang (for connect timeouts)."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(0)
        self.port = self.socket.getsockname()[1]
        self._fillers = []
        # Linux queues backlog + 1 connections; the rest of the SYNs are dropped.
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)
        time.sleep(0.2)

    def close(self):
        for filler in self._fillers:
            filler.close()
        self.socket.close()


class CountingListener:
    """A loopback listener that counts accepted connections and closes them."""

    def __init__(self, host="127.0.0.1"):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((host, 0))
        self.socket.listen(16)
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while self._running:
            try:
                connection, _ = self.socket.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            connection.close()

    def close(self):
        self._running = False
        self._thread.join(STEP_TIMEOUT_SECONDS)
        self.socket.close()


# --- The inventory and the gateway process --------------------------------------------------------------


class Inventory:
    """The SQLite database shared with the gateway: servers and console tokens."""

    def __init__(self, folder):
        self.url = f"sqlite:///{os.path.join(folder, 'rdpconsole.sqlite')}"
        self.database = Database(self.url)
        self.database.upgrade()
        self.servers = ServerRepository(self.database.sessionmaker)
        self.base_url = "http://127.0.0.1:6083/"

    def token(self, host, port, vm_id=None, project_id="project-a", expired=False):
        """Create a server whose console is host:port and return a console token for it."""
        server = self.servers.create(
            name="server", project_id=project_id, user_id="user-a", console_host=host,
            console_port=port, host="compute-1", vm_id=vm_id,
        )
        clock = (lambda: time.time() - 3600) if expired else time.time
        service = ConsoleService(self.database.sessionmaker, self.base_url, clock=clock)
        return service.authorize(server, "rdp-html5"), server.uuid


class GatewayProcess:
    """``rdpconsole.gateway.app.run`` in a subprocess on a free loopback port."""

    def __init__(self, folder, inventory, options=None, name="gateway"):
        self.folder = folder
        self.port = free_port()
        self.config_path = os.path.join(folder, f"{name}.conf")
        self.log_path = os.path.join(folder, f"{name}.log")
        sections = {
            "DEFAULT": {"state_path": folder, "debug": "false"},
            "database": {"connection": inventory.url},
            "gateway": {"listen": "127.0.0.1", "port": self.port},
            "rdp": {"html5_proxy_base_url": f"http://127.0.0.1:{self.port}/"},
        }
        for key, value in (options or {}).items():
            if isinstance(value, dict):
                sections.setdefault(key, {}).update(value)
            else:
                sections["gateway"][key] = value
        with open(self.config_path, "w", encoding="utf-8") as config:
            for section, values in sections.items():
                config.write(f"[{section}]\n")
                for key, value in values.items():
                    if isinstance(value, bool):
                        value = "true" if value else "false"
                    config.write(f"{key} = {value}\n")
        self.process = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path="/ws", query=""):
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def start(self):
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [PYTHON, "-c", GATEWAY_RUNNER, self.config_path],
                cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited with status {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gateway did not answer /healthz within {START_TIMEOUT_SECONDS} s:\n"
                                     f"{self.log_text()}")
            time.sleep(0.05)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log_file:
            return log_file.read()

    def wait_for_log(self, text, timeout=STEP_TIMEOUT_SECONDS):
        """Wait until ``text`` appears in the gateway log; return the whole log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text()
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the gateway log within {timeout} s:\n{log}")
            time.sleep(0.05)

    def http(self, path, method="GET", headers=None):
        """Return (status, headers, body) of one HTTP request to the gateway."""
        request = urllib.request.Request(self.base_url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=STEP_TIMEOUT_SECONDS) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


# --- The client -----------------------------------------------------------------------------------------


def console_request(token, destination="192.0.2.10:3389", x224_request=None, **fields):
    """Return an RDCleanPath request as IronRDP's web client builds it."""
    if x224_request is None:
        x224_request = x224.build_connection_request(
            requested_protocols=x224.Protocol.SSL | x224.Protocol.HYBRID | x224.Protocol.HYBRID_EX
        )
    return rdcleanpath.encode_request(destination, token, x224_request, **fields)


async def connect(url, origin=None, headers=None):
    return await websockets.connect(
        url, origin=origin, additional_headers=headers or {}, compression=None, max_size=None,
        open_timeout=STEP_TIMEOUT_SECONDS, ping_interval=None,
    )


async def exchange(url, request, parts=1, origin=None, headers=None):
    """Open a WebSocket, send ``request`` in ``parts`` messages and return (websocket, decoded reply)."""
    websocket = await connect(url, origin=origin, headers=headers)
    step = max(1, -(-len(request) // parts))
    for offset in range(0, len(request), step):
        await websocket.send(request[offset:offset + step])
    reply = await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
    return websocket, rdcleanpath.decode_response(reply)


async def exchange_and_close(url, request, **options):
    """Like ``exchange``, then wait for the gateway to close; return (reply, close code)."""
    websocket, reply = await exchange(url, request, **options)
    with contextlib.suppress(ConnectionClosed):
        await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
    await websocket.close()
    return reply, websocket.close_code


async def exchange_and_close_after_reply(url, request, **options):
    """Like ``exchange``, then close from the client side; return (reply, close code)."""
    websocket, reply = await exchange(url, request, **options)
    await websocket.close()
    return reply, websocket.close_code


async def wait_closed(websocket, timeout=STEP_TIMEOUT_SECONDS):
    """Wait until the gateway closes ``websocket``; return the messages received before."""
    messages = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            messages.append(await asyncio.wait_for(websocket.recv(), timeout))
    return messages


# --- Fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(str(tmp_path_factory.mktemp("certificates")))


@pytest.fixture
def inventory(tmp_path):
    inventory = Inventory(str(tmp_path))
    yield inventory
    inventory.database.dispose()


@pytest.fixture
def start_gateway(tmp_path, inventory):
    started = []

    def start(**options):
        gateway = GatewayProcess(str(tmp_path), inventory, options, name=f"gateway-{len(started)}")
        started.append(gateway)
        return gateway.start()

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()


@pytest.fixture
def fake_rdp(certificates):
    servers = []

    def start(behaviour="echo", certificate=None, **options):
        server = FakeRdpServer(certificate or certificates["server"], behaviour, **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


# --- A session end to end -------------------------------------------------------------------------------


def test_session_relays_both_ways(gateway, inventory, fake_rdp):
    server = fake_rdp("echo")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def session():
        websocket, reply = await exchange(gateway.ws_url(), console_request(token))
        payload = os.urandom(300 * 1024)
        await websocket.send(payload[:1000])
        await websocket.send(payload[1000:])
        echoed = bytearray()
        while len(echoed) < len(payload):
            echoed += await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
        await websocket.close()
        return reply, bytes(echoed), payload

    reply, echoed, payload = run(session())

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert echoed == payload
    assert bytes(server.received) == payload


def test_response_carries_confirm_and_certificate(gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))

    assert reply.x224_connection_response == x224.build_connection_confirm(x224.Protocol.SSL)
    assert reply.server_cert_chain[0] == certificates["server"].der
    assert reply.server_addr == f"127.0.0.1:{server.port}"


def test_request_split_in_many_messages(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    request = console_request(token)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), request, parts=len(request)))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_x224_request_sent_unchanged(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    x224_request = x224.build_connection_request(cookie=b"Cookie: mstshash=alice", correlation_id=bytes(range(16)))

    run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token, x224_request=x224_request)))

    assert server.x224_requests == [x224_request]


def test_client_destination_ignored(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    decoy = CountingListener()
    try:
        token, _ = inventory.token("127.0.0.1", server.port)
        request = console_request(token, destination=f"127.0.0.1:{decoy.port}")

        reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), request))
        time.sleep(0.2)
    finally:
        decoy.close()

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert server.accepted == 1
    assert decoy.accepted == 0


def test_client_preconnection_blob_ignored(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    request = console_request(token, preconnection_blob="6a7f3e1c-0000-4000-8000-000000000000")

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), request))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert server.x224_requests[0][0] == x224.TPKT_VERSION


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback address")
def test_ipv6_target(gateway, inventory, fake_rdp):
    server = fake_rdp("idle", host="::1")
    token, _ = inventory.token("::1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))

    assert reply.server_addr == f"[::1]:{server.port}"


def test_websocket_under_prefix(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url("/console/rdp/ws"), console_request(token)))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_no_subprotocol_selected(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def session():
        websocket = await websockets.connect(gateway.ws_url(), subprotocols=["binary"], compression=None,
                                             open_timeout=STEP_TIMEOUT_SECONDS)
        subprotocol = websocket.subprotocol
        await websocket.close()
        return subprotocol

    assert run(session()) is None


def test_compression_not_negotiated(gateway):
    async def session():
        websocket = await websockets.connect(gateway.ws_url(), open_timeout=STEP_TIMEOUT_SECONDS)
        extensions = websocket.response.headers.get("Sec-WebSocket-Extensions")
        await websocket.close()
        return extensions

    assert run(session()) is None


# --- Tokens ---------------------------------------------------------------------------------------------


def test_token_from_query(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(query=f"token={token}"), console_request("")))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_token_from_cookie(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(
        gateway.ws_url(), console_request(""), headers={"Cookie": f"lang=en; token={token}"}
    ))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_missing_token_refused(gateway):
    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request("")))

    assert reply.http_status_code == 401


def test_duplicate_query_token_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(query=f"token={token}&token={token}"), console_request(token)))

    assert reply.http_status_code == 400
    assert server.accepted == 0


def test_conflicting_tokens_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    other, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(query=f"token={other}"), console_request(token)))

    assert reply.http_status_code == 400
    assert server.accepted == 0


def test_unknown_token_refused_without_connecting(gateway, fake_rdp):
    server = fake_rdp("idle")

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request("0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f")))

    assert reply.http_status_code == 404
    assert server.accepted == 0


def test_expired_token_refused_without_connecting(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port, expired=True)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.http_status_code == 404
    assert server.accepted == 0


def test_hyperv_token_refused_without_connecting(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, server_id = inventory.token("127.0.0.1", server.port, vm_id="6a7f3e1c-0000-4000-8000-000000000000")

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))
    log = gateway.wait_for_log("Hyper-V")

    assert reply.http_status_code == 501
    assert server.accepted == 0
    assert server_id in log


def test_session_cap_per_token(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(max_sessions_per_token=1)
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def sessions():
        first, first_reply = await exchange(gateway.ws_url(), console_request(token))
        second_reply, _ = await exchange_and_close(gateway.ws_url(), console_request(token))
        await first.close()
        await asyncio.sleep(0.3)
        third_reply, _ = await exchange_and_close_after_reply(gateway.ws_url(), console_request(token))
        return first_reply, second_reply, third_reply

    first, second, third = run(sessions())

    assert isinstance(first, rdcleanpath.RDCleanPathResponse)
    assert second.http_status_code == 429
    assert isinstance(third, rdcleanpath.RDCleanPathResponse)


def test_refused_session_does_not_use_token(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(max_sessions_per_token=1)
    refused = fake_rdp("close")
    token, _ = inventory.token("127.0.0.1", refused.port)

    async def sessions():
        first, _ = await exchange_and_close(gateway.ws_url(), console_request(token))
        second, _ = await exchange_and_close(gateway.ws_url(), console_request(token))
        return first, second

    first, second = run(sessions())

    assert first.wsa_last_error == 10054
    assert second.wsa_last_error == 10054


# --- Malformed requests ---------------------------------------------------------------------------------


def test_garbage_request_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")

    reply, close_code = run(exchange_and_close(gateway.ws_url(), b"\x16\x03\x01 hello, not DER"))

    assert reply.http_status_code == 400
    assert close_code == 1002
    assert server.accepted == 0


def test_oversized_request_refused(gateway):
    header = bytes([0x30, 0x83, 0x10, 0x00, 0x00])

    reply, _ = run(exchange_and_close(gateway.ws_url(), header + bytes(100)))

    assert reply.http_status_code == 400


def test_wrong_version_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    request = console_request(token).replace(bytes([0xA0, 0x04, 0x02, 0x02, 0x0D, 0x3E]),
                                             bytes([0xA0, 0x04, 0x02, 0x02, 0x0D, 0x3D]))

    reply, _ = run(exchange_and_close(gateway.ws_url(), request))

    assert reply.http_status_code == 400
    assert server.accepted == 0


def test_text_message_refused(gateway):
    async def session():
        websocket = await connect(gateway.ws_url())
        await websocket.send("not binary")
        messages = await wait_closed(websocket)
        return rdcleanpath.decode_response(messages[0]), websocket.close_code

    reply, close_code = run(session())

    assert reply.http_status_code == 400
    assert close_code == 1003


def test_request_without_x224_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    request = rdcleanpath.encode_request("host:3389", token, preconnection_blob="6a7f3e1c")

    reply, _ = run(exchange_and_close(gateway.ws_url(), request))

    assert reply.http_status_code == 400
    assert server.accepted == 0


def test_oversized_message_closes(start_gateway):
    gateway = start_gateway(max_message_size=64 * 1024)

    async def session():
        websocket = await connect(gateway.ws_url())
        await websocket.send(bytes([0x30, 0x82, 0xFF, 0xF0]) + bytes(70 * 1024))
        await wait_closed(websocket)
        return websocket.close_code

    assert run(session()) == 1009


# --- Origin ---------------------------------------------------------------------------------------------


def test_allowed_origin_accepted(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token),
                                                  origin=gateway.base_url))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_other_origin_rejected(gateway):
    with pytest.raises(InvalidStatus) as raised:
        run(connect(gateway.ws_url(), origin="http://evil.example.net"))

    assert raised.value.response.status_code == 403
    assert "evil.example.net" in gateway.wait_for_log("rejected with HTTP 403")


def test_listed_origin_accepted(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(allowed_origins="https://dashboard.example.org")
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token),
                                                  origin="https://dashboard.example.org"))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_same_origin_through_trusted_proxy(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(allowed_origins="https://dashboard.example.org", allow_same_origin=True,
                            trusted_proxies="127.0.0.1")
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "console.example.org"}

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token),
                                                  origin="https://console.example.org", headers=headers))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_forwarded_host_ignored_from_untrusted_peer(start_gateway):
    gateway = start_gateway(allowed_origins="https://dashboard.example.org", allow_same_origin=True)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "console.example.org"}

    with pytest.raises(InvalidStatus) as raised:
        run(connect(gateway.ws_url(), origin="https://console.example.org", headers=headers))

    assert raised.value.response.status_code == 403


# --- Failures on the RDP side ---------------------------------------------------------------------------


def test_connection_refused(gateway, inventory):
    token, _ = inventory.token("127.0.0.1", free_port())

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.error_code == rdcleanpath.GENERAL_ERROR_CODE
    assert reply.wsa_last_error == 10061


def test_host_not_found(gateway, inventory):
    token, _ = inventory.token("no-such-host.invalid", 3389)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.wsa_last_error in (11001, 11002, 11004)


def test_negotiation_failure_carries_confirm(gateway, inventory, fake_rdp):
    server = fake_rdp("negotiation_failure")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.error_code == rdcleanpath.NEGOTIATION_ERROR_CODE
    assert reply.x224_connection_response == x224.build_negotiation_failure(
        x224.FailureCode.HYBRID_REQUIRED_BY_SERVER)


def test_invalid_confirm_refused(gateway, inventory, fake_rdp):
    server = fake_rdp("garbage")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.http_status_code == 502


def test_server_closes_during_x224(gateway, inventory, fake_rdp):
    server = fake_rdp("close")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.wsa_last_error == 10054


def test_tls_handshake_failure(gateway, inventory, fake_rdp):
    server = fake_rdp("handshake_failure")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.error_code == rdcleanpath.GENERAL_ERROR_CODE
    assert reply.tls_alert_code == 40


def test_pinned_fingerprint_accepted(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    gateway = start_gateway(rdp_verify="pin",
                            rdp_pinned_fingerprints=f"127.0.0.1:{server.port}={certificates['server'].sha256}")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_pinned_fingerprint_mismatch(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    gateway = start_gateway(rdp_verify="pin",
                            rdp_pinned_fingerprints=f"127.0.0.1:{server.port}={certificates['self_signed'].sha256}")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))
    log = gateway.wait_for_log("RDP server certificate rejected")

    assert reply.tls_alert_code == 42
    assert certificates["server"].sha256.upper() in log


def test_ca_verification_accepted(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    gateway = start_gateway(rdp_verify="ca", rdp_ca_file=certificates["ca"].cert_path)
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


def test_ca_verification_rejects_unknown_issuer(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle", certificate=certificates["self_signed"])
    gateway = start_gateway(rdp_verify="ca", rdp_ca_file=certificates["ca"].cert_path)
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.tls_alert_code == 48


def test_ca_verification_checks_host_name(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    gateway = start_gateway(rdp_verify="ca", rdp_ca_file=certificates["ca"].cert_path)
    token, _ = inventory.token("localhost", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.tls_alert_code == 42


def test_ca_verification_without_host_name_check(start_gateway, inventory, fake_rdp, certificates):
    server = fake_rdp("idle")
    gateway = start_gateway(rdp_verify="ca", rdp_ca_file=certificates["ca"].cert_path, rdp_check_hostname=False)
    token, _ = inventory.token("localhost", server.port)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)


# --- Timeouts -------------------------------------------------------------------------------------------


def test_request_timeout(start_gateway):
    gateway = start_gateway(request_timeout=0.5)

    async def session():
        websocket = await connect(gateway.ws_url())
        messages = await wait_closed(websocket)
        return rdcleanpath.decode_response(messages[0])

    reply = run(session())
    log = gateway.wait_for_log("request_timeout")

    assert reply.http_status_code == 408
    assert "RDCleanPath request timed out" in log


def test_connect_timeout(start_gateway, inventory):
    gateway = start_gateway(connect_timeout=0.5)
    listener = BlackholeListener()
    try:
        token, _ = inventory.token("127.0.0.1", listener.port)
        started = time.monotonic()
        reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))
        elapsed = time.monotonic() - started
    finally:
        listener.close()

    assert reply.wsa_last_error == 10060
    assert elapsed < 5
    assert "connect_timeout" in gateway.wait_for_log("TCP connect timed out")


def test_x224_timeout(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(x224_timeout=0.5)
    server = fake_rdp("silent")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.wsa_last_error == 10060
    assert "x224_timeout" in gateway.wait_for_log("X.224 Connection Confirm timed out")


def test_tls_timeout(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(tls_timeout=0.5)
    server = fake_rdp("no_tls")
    token, _ = inventory.token("127.0.0.1", server.port)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.wsa_last_error == 10060
    assert "tls_timeout" in gateway.wait_for_log("TLS handshake timed out")


def test_idle_timeout_closes_session(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(idle_timeout=0.5)
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def session():
        websocket, _ = await exchange(gateway.ws_url(), console_request(token))
        await wait_closed(websocket)
        return websocket.close_code

    assert run(session()) == 1000
    assert "idle_timeout" in gateway.wait_for_log("ended")


def test_max_session_duration(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(max_session_duration=0.5)
    server = fake_rdp("echo")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def session():
        websocket, _ = await exchange(gateway.ws_url(), console_request(token))
        with contextlib.suppress(ConnectionClosed):
            for _ in range(100):
                await websocket.send(b"keystroke")
                await asyncio.sleep(0.05)
        return websocket.close_code

    assert run(session()) == 1000
    assert "max_session_duration" in gateway.wait_for_log("ended")


def test_ping_timeout_closes_session(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(ping_interval=0.3, ping_timeout=0.3)
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    with RawWebSocket(gateway.port) as client:
        client.send_binary(console_request(token))
        client.read_message()
        # The client now stops reading and sends no pong, like a browser that vanished.
        log = gateway.wait_for_log("ended")

    assert "ping timeout" in log


def test_silent_connection_closed(start_gateway):
    gateway = start_gateway(handshake_timeout=0.5)

    with socket.create_connection(("127.0.0.1", gateway.port), timeout=STEP_TIMEOUT_SECONDS) as connection:
        data = connection.recv(100)
    log = gateway.wait_for_log("handshake_timeout")

    assert data == b""
    assert log.count("no complete HTTP request") == 1


def test_partial_request_closed(start_gateway):
    gateway = start_gateway(handshake_timeout=0.5)

    with socket.create_connection(("127.0.0.1", gateway.port), timeout=STEP_TIMEOUT_SECONDS) as connection:
        connection.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        data = connection.recv(100)

    assert data == b""


def test_garbage_on_port_costs_one_line(gateway):
    before = gateway.log_text().count("\n")

    with socket.create_connection(("127.0.0.1", gateway.port), timeout=STEP_TIMEOUT_SECONDS) as connection:
        connection.sendall(os.urandom(64) + b"\r\n\r\n")
        answer = connection.recv(100)
    time.sleep(0.5)

    assert answer.startswith(b"HTTP/1.1 400")
    assert gateway.log_text().count("\n") - before <= 1


def test_probe_connection_costs_nothing(gateway):
    before = gateway.log_text().count("\n")

    for _ in range(5):
        socket.create_connection(("127.0.0.1", gateway.port), timeout=STEP_TIMEOUT_SECONDS).close()
    time.sleep(0.5)

    assert gateway.log_text().count("\n") - before == 0


class RawWebSocket:
    """A WebSocket client on a plain socket that sends nothing by itself, not even pongs."""

    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT_SECONDS)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.socket.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.socket.recv(1)
        assert head.startswith(b"HTTP/1.1 101")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.socket.close()

    def send_binary(self, payload):
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        if len(payload) < 126:
            header = bytes([0x82, 0x80 | len(payload)])
        else:
            header = bytes([0x82, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.socket.sendall(header + mask + masked)

    def _recv_exactly(self, size):
        data = b""
        while len(data) < size:
            chunk = self.socket.recv(size - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data += chunk
        return data

    def read_message(self):
        """Return (opcode, payload) of the next frame."""
        first, second = self._recv_exactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._recv_exactly(2), "big")
        elif length == 127:
            length = int.from_bytes(self._recv_exactly(8), "big")
        return first & 0x0F, self._recv_exactly(length)


# --- Audit and logs -------------------------------------------------------------------------------------


def test_audit_lines(gateway, inventory, fake_rdp):
    server = fake_rdp("echo")
    token, server_id = inventory.token("127.0.0.1", server.port, project_id="project-audit")

    async def session():
        websocket, _ = await exchange(gateway.ws_url(), console_request(token))
        await websocket.send(b"x" * 1000)
        received = 0
        while received < 1000:
            received += len(await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS))
        await websocket.close()

    run(session())
    log = gateway.wait_for_log("ended")
    started = next(line for line in log.splitlines() if "Console session" in line and "started" in line)
    ended = next(line for line in log.splitlines() if "Console session" in line and "ended" in line)
    token_id = hash_token(token)[:8]

    for line in (started, ended):
        assert server_id in line
        assert "project-audit" in line
        assert "client 127.0.0.1" in line
        assert f"token {token_id}" in line
        assert f"target 127.0.0.1:{server.port}" in line
    assert "1000 bytes to the server, 1000 bytes to the client" in ended
    assert "duration" in ended
    assert "reason: client closed the WebSocket (close code 1000)" in ended


def test_refusal_logged_once(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, server_id = inventory.token("127.0.0.1", server.port, expired=True)

    run(exchange_and_close(gateway.ws_url(), console_request(token)))
    log = gateway.wait_for_log("refused")

    assert log.count("refused") == 1
    assert hash_token(token)[:8] in log


def test_clear_token_never_logged(start_gateway, inventory, fake_rdp):
    gateway = start_gateway(DEFAULT={"debug": True})
    server = fake_rdp("echo")
    token, _ = inventory.token("127.0.0.1", server.port)
    unknown = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"

    async def sessions():
        websocket, _ = await exchange(gateway.ws_url(query=f"token={token}"), console_request(token),
                                      headers={"Cookie": f"token={token}"})
        await websocket.send(b"secret keystrokes")
        await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
        await websocket.close()
        await exchange_and_close(gateway.ws_url(), console_request(unknown))

    run(sessions())
    gateway.http(f"/?token={token}")
    log = gateway.wait_for_log("ended")
    time.sleep(0.3)
    log = gateway.log_text()

    assert "secret keystrokes" not in log
    assert token not in log
    assert unknown not in log


# --- HTTP routes on the real server ---------------------------------------------------------------------


def test_page_served_with_policy(gateway):
    status, headers, body = gateway.http("/?token=0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f&title=server(1)")

    assert status == 200
    assert body.startswith(b"<!DOCTYPE html>")
    assert "frame-ancestors *" in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_page_frame_ancestors_option(start_gateway):
    gateway = start_gateway(frame_ancestors="https://dashboard.example.org")

    _, headers, _ = gateway.http("/?token=x")

    assert headers["Content-Security-Policy"].endswith("frame-ancestors https://dashboard.example.org")


def test_page_without_token_explains(gateway):
    status, _, body = gateway.http("/")

    assert status == 400
    assert b"openstack console url show --rdp" in body


@pytest.mark.parametrize(
    "name",
    ["console.js", "iron-remote-desktop.js", "iron-remote-desktop-rdp.js"],
)
def test_scripts_served(gateway, name):
    path = os.path.join(REPO_ROOT, "node_modules")
    if "iron" in name and not os.path.isdir(path):
        pytest.skip("node_modules missing: run npm ci")

    status, headers, body = gateway.http(f"/static/{name}")

    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert len(body) > 0


def test_stylesheet_served(gateway):
    status, headers, _ = gateway.http("/static/console.css")

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")


def test_unknown_static_file(gateway):
    assert gateway.http("/static/settings.py")[0] == 404


def test_health_check(gateway):
    assert gateway.http("/healthz")[0] == 200


def test_post_not_allowed(gateway):
    status, headers, _ = gateway.http("/?token=x", method="POST")

    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_unknown_path(gateway):
    assert gateway.http("/etc/passwd")[0] == 404


def test_websocket_on_other_path_rejected(gateway):
    with pytest.raises(InvalidStatus) as raised:
        run(connect(gateway.ws_url("/websockify")))

    assert raised.value.response.status_code == 404


# --- A real RDP server: FreeRDP's shadow server ---------------------------------------------------------


@pytest.fixture
def desktop(tmp_path):
    from rdpconsole.desktop import DesktopRig
    from rdpconsole.desktop import ProgramNotFound

    rig = DesktopRig(str(tmp_path / "desktop"))
    try:
        rig.start()
    except ProgramNotFound as error:
        pytest.skip(str(error))
    yield rig
    rig.stop()


def server_certificate(host, port):
    """Return the DER certificate that the RDP server at host:port presents after X.224."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=STEP_TIMEOUT_SECONDS) as connection:
        connection.sendall(x224.build_connection_request(requested_protocols=x224.Protocol.SSL))
        confirm = connection.recv(x224.MAX_HANDSHAKE_TPKT_LENGTH)
        assert confirm[0] == x224.TPKT_VERSION
        with context.wrap_socket(connection) as tls:
            return tls.getpeercert(binary_form=True)


def test_freerdp_shadow_server(gateway, inventory, desktop):
    token, _ = inventory.token(desktop.host, desktop.port)

    async def session():
        websocket, reply = await exchange(gateway.ws_url(), console_request(token))
        await asyncio.sleep(0.5)
        still_open = websocket.state == websockets.protocol.State.OPEN
        await websocket.close()
        return reply, still_open

    reply, still_open = run(session())

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert x224.parse_connection_confirm(reply.x224_connection_response).negotiation.selected_protocol in (
        x224.Protocol.SSL, x224.Protocol.HYBRID, x224.Protocol.HYBRID_EX)
    assert reply.server_cert_chain[0] == server_certificate(desktop.host, desktop.port)
    assert reply.server_addr == f"{desktop.host}:{desktop.port}"
    assert still_open


def test_freerdp_answers_through_relay(gateway, inventory, desktop):
    """The relay carries the client's first RDP PDU after TLS and the server's reply back."""
    token, _ = inventory.token(desktop.host, desktop.port)
    request = console_request(token, x224_request=x224.build_connection_request(
        requested_protocols=x224.Protocol.SSL))

    async def session():
        websocket, _ = await exchange(gateway.ws_url(), request)
        await websocket.send(MCS_CONNECT_INITIAL)
        answer = await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
        await websocket.close()
        return answer

    answer = run(session())

    # MCS Connect Response (T.125): a TPKT whose X.224 Data TPDU carries a BER application tag 102.
    assert answer[0] == x224.TPKT_VERSION
    assert answer[7:9] == b"\x7f\x66"


# The MCS Connect Initial PDU (MS-RDPBCGR 2.2.1.3) that xfreerdp sends first inside TLS,
# captured from Debian's freerdp2-x11 2.11.7 run with /sec:tls /size:1024x768
# /client-hostname:rdpconsole against a TLS test server. It carries no user name or password.
MCS_CONNECT_INITIAL = bytes.fromhex(
    "030001c302f0807f658201b70401010401010101ff301a020122020102020100020101020100020101020300ffff0201"
    "023019020101020101020101020101020100020101020204200201023020020300ffff020300fc17020300ffff020101"
    "020100020101020300ffff02010204820151000500147c00018148000800100001c00044756361813a01c0ea000c0008"
    "002003580201ca03aa09040000bb47000072006400700063006f006e0073006f006c0065000000000000000000000000"
    "0004000000000000000c0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000001ca01000000000018000f00e3050000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000007000100000000000000000000000000000000000000000004c00c000d0000000000000002"
    "c00c00000000000000000003c03800040000007264706472000000000080c0726470736e640000000000c0636c697072"
    "6472000000a0c0647264796e766300000080c0"
)


# --- Token validation through a Compute API -------------------------------------------------------------


KEYSTONE_TOKEN = "gAAAAAB-fake-keystone-token"


class FakeComputeApi:
    """A Compute API on loopback with os-console-auth-tokens and servers, recording each request.

    It also plays Keystone v3 under /identity/v3: version discovery and
    password authentication, with a catalog that lists this API.
    """

    def __init__(self):
        self.tokens = {}
        self.projects = {}
        self.requests = []
        self.keystone_requests = []
        self.token_status = None
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                # Keystone v3 password authentication (POST /identity/v3/auth/tokens).
                length = int(self.headers.get("Content-Length", "0"))
                api.keystone_requests.append(json.loads(self.rfile.read(length)))
                if self.path != "/identity/v3/auth/tokens":
                    return self._reply(404, {})
                return self._reply(201, api.keystone_token(), {"X-Subject-Token": KEYSTONE_TOKEN})

            def do_GET(self):
                api.requests.append({"path": self.path, "headers": dict(self.headers)})
                parts = self.path.split("/")
                if self.path.rstrip("/") == "/identity/v3":
                    return self._reply(200, {"version": {
                        "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": f"{api.base_url}/identity/v3/"}],
                        "media-types": [{"base": "application/json",
                                         "type": "application/vnd.openstack.identity-v3+json"}],
                    }})
                if self.path.startswith("/v2.1/os-console-auth-tokens/"):
                    if api.token_status is not None:
                        return self._reply(api.token_status, {"forbidden": {"code": api.token_status}})
                    console = api.tokens.get(parts[-1])
                    if console is None:
                        return self._reply(404, {"itemNotFound": {"code": 404, "message": "Token not found"}})
                    return self._reply(200, {"console": console})
                if self.path.startswith("/v2.1/servers/") and parts[-1] in api.projects:
                    return self._reply(200, {"server": {"id": parts[-1], "tenant_id": api.projects[parts[-1]]}})
                return self._reply(404, {"itemNotFound": {"code": 404, "message": "not found"}})

            def _reply(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self):
        return f"{self.base_url}/v2.1"

    def keystone_token(self):
        """Return a Keystone v3 token body whose catalog lists this API as service type compute."""
        domain = {"id": "default", "name": "Default"}
        return {"token": {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2024-01-01T00:00:00.000000Z",
            "user": {"id": "gateway-user", "name": "rdpconsole-gateway", "domain": domain},
            "project": {"id": "service-project", "name": "service", "domain": domain},
            "roles": [{"id": "admin-role", "name": "admin"}],
            "catalog": [{"type": "compute", "name": "nova", "id": "compute-service", "endpoints": [
                {"id": "compute-internal", "interface": "internal", "region": "RegionOne",
                 "region_id": "RegionOne", "url": self.endpoint},
            ]}],
        }}

    def add_token(self, token, host, port, server_id, project_id, internal_access_path=None):
        self.tokens[token] = {"instance_uuid": server_id, "host": host, "port": port,
                              "internal_access_path": internal_access_path}
        self.projects[server_id] = project_id

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def compute_api():
    api = FakeComputeApi()
    yield api
    api.close()


def compute_api_gateway(start_gateway, api):
    return start_gateway(token_backend="compute_api", compute_api_endpoint=api.endpoint, admin_token="admin:admin")


def test_compute_api_token_accepted(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    token = "6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a11"
    compute_api.add_token(token, "127.0.0.1", server.port, "7e0d4f1c-0000-4000-8000-00000000000a", "project-api")
    gateway = compute_api_gateway(start_gateway, compute_api)

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))
    log = gateway.wait_for_log("started")

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert "project project-api" in log
    assert compute_api.requests[0]["headers"]["X-Auth-Token"] == "admin:admin"


def test_compute_api_sends_no_microversion(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    token = "6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a12"
    compute_api.add_token(token, "127.0.0.1", server.port, "7e0d4f1c-0000-4000-8000-00000000000b", "project-api")
    gateway = compute_api_gateway(start_gateway, compute_api)

    run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))
    headers = {name.lower() for name in compute_api.requests[0]["headers"]}

    assert "openstack-api-version" not in headers
    assert "x-openstack-nova-api-version" not in headers


def test_compute_api_unknown_token(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    gateway = compute_api_gateway(start_gateway, compute_api)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request("6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a13")))

    assert reply.http_status_code == 404
    assert server.accepted == 0


def test_compute_api_hyperv_token(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    token = "6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a14"
    compute_api.add_token(token, "127.0.0.1", server.port, "7e0d4f1c-0000-4000-8000-00000000000c", "project-api",
                          internal_access_path="6a7f3e1c-0000-4000-8000-000000000000")
    gateway = compute_api_gateway(start_gateway, compute_api)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))

    assert reply.http_status_code == 501
    assert server.accepted == 0


def test_compute_api_forbidden(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    compute_api.token_status = 403
    gateway = compute_api_gateway(start_gateway, compute_api)

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request("6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a15")))
    log = gateway.wait_for_log("refused")

    assert reply.http_status_code == 502
    assert "os_compute_api:os-console-auth-tokens" in log
    assert server.accepted == 0


def test_compute_api_unreachable(start_gateway, fake_rdp):
    server = fake_rdp("idle")
    token = "6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a16"
    gateway = start_gateway(token_backend="compute_api", admin_token="admin:admin",
                            compute_api_endpoint=f"http://127.0.0.1:{free_port()}/v2.1")

    reply, _ = run(exchange_and_close(gateway.ws_url(), console_request(token)))
    log = gateway.wait_for_log("refused")

    assert reply.http_status_code == 502
    assert token not in log
    assert server.accepted == 0


def test_compute_api_keystone_catalog(start_gateway, compute_api, fake_rdp):
    server = fake_rdp("idle")
    token = "6f0d8a52-8b4e-4d36-9a52-9b3f3b0f4a17"
    compute_api.add_token(token, "127.0.0.1", server.port, "7e0d4f1c-0000-4000-8000-00000000000d", "project-ks")
    gateway = start_gateway(token_backend="compute_api", compute_api={
        "auth_type": "password", "auth_url": f"{compute_api.base_url}/identity/v3",
        "username": "rdpconsole-gateway", "password": "gateway-secret", "project_name": "service",
        "user_domain_name": "Default", "project_domain_name": "Default",
    })

    reply, _ = run(exchange_and_close_after_reply(gateway.ws_url(), console_request(token)))
    token_request = next(request for request in compute_api.requests
                         if request["path"].startswith("/v2.1/os-console-auth-tokens/"))
    log = gateway.wait_for_log("started")

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert token_request["headers"]["X-Auth-Token"] == KEYSTONE_TOKEN
    assert compute_api.keystone_requests[0]["auth"]["identity"]["password"]["user"]["name"] == "rdpconsole-gateway"
    assert "project project-ks" in log
    assert "gateway-secret" not in log


def api_module_available():
    try:
        import rdpconsole.api.app  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not api_module_available(), reason="rdpconsole.api is not installed")
def test_compute_api_backend_with_rdpconsole_api(start_service, start_gateway, fake_rdp):
    """The compute_api backend against rdpconsole's own Compute API, in a real 'rdpconsole serve'."""
    server = fake_rdp("echo")
    service = start_service()
    created = service.create_server(console_host="127.0.0.1", console_port=server.port,
                                    project_id="project-real", user_id="user-real")
    server_id = created.get("id") or created["server"]["id"]

    request = urllib.request.Request(
        f"{service.api_url}/v2.1/servers/{server_id}/action",
        data=json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}}).encode(),
        headers={"X-Auth-Token": "user-real:project-real", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=STEP_TIMEOUT_SECONDS) as response:
        url = json.loads(response.read())["console"]["url"]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]

    gateway = start_gateway(token_backend="compute_api", compute_api_endpoint=f"{service.api_url}/v2.1",
                            admin_token="admin:admin")

    async def session():
        websocket, reply = await exchange(gateway.ws_url(), console_request(token))
        await websocket.send(b"hello")
        echoed = await asyncio.wait_for(websocket.recv(), STEP_TIMEOUT_SECONDS)
        await websocket.close()
        unknown, _ = await exchange_and_close(gateway.ws_url(), console_request(token[:-4] + "0000"))
        return reply, echoed, unknown

    reply, echoed, unknown = run(session())
    log = gateway.wait_for_log("ended")

    assert isinstance(reply, rdcleanpath.RDCleanPathResponse)
    assert echoed == b"hello"
    assert unknown.http_status_code == 404
    assert "project project-real" in log
    assert server.accepted == 1


# --- Shutdown -------------------------------------------------------------------------------------------


def test_shutdown_ends_sessions_with_audit(gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    token, _ = inventory.token("127.0.0.1", server.port)

    async def session():
        websocket, _ = await exchange(gateway.ws_url(), console_request(token))
        await asyncio.sleep(0.2)
        gateway.process.send_signal(signal.SIGTERM)
        await wait_closed(websocket)
        return websocket.close_code

    close_code = run(session())
    gateway.process.wait(20)

    assert close_code == 1012
    assert "gateway shutting down" in gateway.log_text()


# --- Many idle sessions -----------------------------------------------------------------------------------

# Sessions opened at once. This checks that they open and stay open; memory
# and speed are measured by bench/gateway/run.py, not here.
IDLE_SESSIONS = 50


def test_many_idle_sessions_held(start_gateway, inventory, fake_rdp):
    server = fake_rdp("idle")
    gateway = start_gateway(max_sessions_per_token=IDLE_SESSIONS)
    token, _ = inventory.token("127.0.0.1", server.port)

    async def hold_sessions():
        results = await asyncio.gather(
            *(exchange(gateway.ws_url(), console_request(token)) for _ in range(IDLE_SESSIONS)),
            return_exceptions=True,
        )
        opened = [result[0] for result in results if isinstance(result, tuple)]
        try:
            await asyncio.sleep(0.5)
            states = [websocket.state for websocket in opened]
        finally:
            await asyncio.gather(*(websocket.close() for websocket in opened))
        return results, states

    results, states = run(hold_sessions())
    failures = [result for result in results if not isinstance(result, tuple)]
    replies = [result[1] for result in results if isinstance(result, tuple)]

    assert failures == []
    assert all(isinstance(reply, rdcleanpath.RDCleanPathResponse) for reply in replies)
    assert states.count(websockets.protocol.State.OPEN) == IDLE_SESSIONS
    assert server.accepted == IDLE_SESSIONS
