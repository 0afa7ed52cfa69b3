"""The load client of the gateway benchmark, run by run.py as a process of its own.

Each mode opens connections along one path to the RDP-like endpoint of
endpoint.py and speaks the commands of protocol.py:

- ``direct-tls``: TCP, X.224 and TLS straight to the endpoint's TLS port;
- ``direct-tcp``: TCP and X.224 straight to the endpoint's plain port;
- ``gateway``: a WebSocket to the console gateway, one RDCleanPath request
  and response, then RDP bytes in binary messages (the gateway does TCP,
  X.224 and TLS to the endpoint's TLS port);
- ``websockify``: a WebSocket to websockify, which relays binary messages
  to the endpoint's plain port as raw TCP bytes (the client sends the
  X.224 request itself).

Modes ``throughput``, ``latency`` and ``setup`` use blocking sockets and a
WebSocket client written for this benchmark: it sends each message with
one ``sendall`` and a zero masking key, and reads frames into one large
buffer. The zero masking key is valid under RFC 6455 section 5.3, so the
relay still unmasks every byte while the client does no XOR work. These
modes print ``{"ready": true}``, wait
for a line on standard input, run the timed part and print one JSON line
with the result and the client's own CPU seconds, so that run.py can sample
the other processes' CPU time around exactly that part.

Mode ``idle`` uses the ``websockets`` library (which replies to the
gateway's pings) and reads commands from standard input: ``open N`` opens N more
sessions, ``status`` reports how many are still open, ``close`` ends.
"""

import argparse
import asyncio
import collections
import json
import os
import resource
import socket
import ssl
import sys
import time

import protocol
from rdpconsole.wire import rdcleanpath
from rdpconsole.wire import x224

PATHS = ("direct-tls", "direct-tcp", "gateway", "websockify")
# Seconds any single network step may take.
STEP_TIMEOUT_SECONDS = 30
# Bytes of the receive buffer of the WebSocket client.
RECEIVE_BUFFER_SIZE = 4 * 1024 * 1024
WEBSOCKET_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ZERO_MASK = bytes(4)

OPCODE_CONTINUATION = 0x0
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA


class WebSocketClosed(EOFError):
    """The server sent a close frame or closed the connection."""


def x224_request():
    """Build the X.224 Connection Request of IronRDP's web client: TLS, CredSSP and CredSSP with EUAR."""
    return x224.build_connection_request(
        requested_protocols=x224.Protocol.SSL | x224.Protocol.HYBRID | x224.Protocol.HYBRID_EX
    )


def frame_header(opcode, length):
    """Return a masked client frame header with FIN set and a zero masking key."""
    first = 0x80 | opcode
    if length < 126:
        header = bytes([first, 0x80 | length])
    elif length < 65536:
        header = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    return header + ZERO_MASK


class SocketStream:
    """RDP bytes straight over a TCP socket or an ssl.SSLSocket."""

    def __init__(self, sock):
        self.sock = sock
        self._buffer = bytearray(RECEIVE_BUFFER_SIZE)

    def send(self, data):
        self.sock.sendall(data)

    def send_bulk(self, count, block):
        while count:
            piece = block[:min(len(block), count)]
            self.sock.sendall(piece)
            count -= len(piece)

    def discard(self, count):
        while count:
            received = self.sock.recv_into(self._buffer, min(len(self._buffer), count))
            if not received:
                raise EOFError("connection closed")
            count -= received

    def read_exactly(self, size):
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data += chunk
        return bytes(data)

    def close(self):
        self.sock.close()


class WebSocketStream:
    """RDP bytes in binary WebSocket messages, one message per ``send``."""

    def __init__(self, sock, message_size):
        self.sock = sock
        self.message_size = message_size
        self._buffer = bytearray(RECEIVE_BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0
        self._frame_left = 0
        self._frame_fin = True

    # Handshake

    def upgrade(self, host, port, path):
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode("ascii")
        )
        while True:
            self._fill()
            head_end = self._buffer.find(b"\r\n\r\n", self._start, self._end)
            if head_end >= 0:
                break
        head = bytes(self._buffer[self._start:head_end])
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket upgrade failed: {head[:80]!r}")
        self._start = head_end + 4

    # Sending

    def send(self, data):
        self.sock.sendall(frame_header(OPCODE_BINARY, len(data)) + data)

    def send_bulk(self, count, block):
        frame = frame_header(OPCODE_BINARY, self.message_size) + bytes(block[:self.message_size])
        while count >= self.message_size:
            self.sock.sendall(frame)
            count -= self.message_size
        if count:
            self.send(bytes(block[:count]))

    def close(self):
        try:
            self.sock.sendall(frame_header(OPCODE_CLOSE, 2) + (1000).to_bytes(2, "big"))
        except OSError:
            pass
        self.sock.close()

    # Receiving

    def _fill(self):
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buffer):
            self._compact()
        received = self.sock.recv_into(self._view[self._end:])
        if not received:
            raise WebSocketClosed("the server closed the connection")
        self._end += received

    def _compact(self):
        size = self._end - self._start
        self._buffer[:size] = self._buffer[self._start:self._end]
        self._start, self._end = 0, size

    def _ensure(self, size):
        while self._end - self._start < size:
            if len(self._buffer) - self._start < size:
                self._compact()
            self._fill()

    def _next_data_frame(self):
        """Consume frame headers (and whole control frames) until a data frame's payload starts."""
        while True:
            self._ensure(2)
            first, second = self._buffer[self._start], self._buffer[self._start + 1]
            opcode = first & 0x0F
            length = second & 0x7F
            header_size = 2
            if length == 126:
                self._ensure(4)
                length = int.from_bytes(self._buffer[self._start + 2:self._start + 4], "big")
                header_size = 4
            elif length == 127:
                self._ensure(10)
                length = int.from_bytes(self._buffer[self._start + 2:self._start + 10], "big")
                header_size = 10
            if second & 0x80:
                raise ConnectionError("the server sent a masked frame")
            if opcode >= OPCODE_CLOSE:
                self._ensure(header_size + length)
                payload = bytes(self._buffer[self._start + header_size:self._start + header_size + length])
                self._start += header_size + length
                if opcode == OPCODE_CLOSE:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    raise WebSocketClosed(f"the server closed the WebSocket with code {code}")
                if opcode == OPCODE_PING:
                    self.sock.sendall(frame_header(OPCODE_PONG, len(payload)) + payload)
                continue
            self._start += header_size
            self._frame_left = length
            self._frame_fin = bool(first & 0x80)
            return

    def _payload(self, limit):
        while self._frame_left == 0:
            self._next_data_frame()
        if self._start == self._end:
            self._fill()
        take = min(self._frame_left, self._end - self._start, limit)
        view = self._view[self._start:self._start + take]
        self._start += take
        self._frame_left -= take
        return view

    def discard(self, count):
        while count:
            count -= len(self._payload(count))

    def read_exactly(self, size):
        data = bytearray()
        while len(data) < size:
            data += self._payload(size - len(data))
        return bytes(data)

    def read_message(self):
        """Return the payload of the next whole data message."""
        data = bytearray()
        self._next_data_frame()
        while True:
            while self._frame_left:
                data += self._payload(self._frame_left)
            if self._frame_fin:
                return bytes(data)
            self._next_data_frame()


# Opening sessions


def tcp_connect(host, port):
    sock = socket.create_connection((host, port), timeout=STEP_TIMEOUT_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def client_tls_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def exchange_x224(read_exactly, send):
    send(x224_request())
    header = read_exactly(x224.TPKT_HEADER_SIZE)
    confirm = header + read_exactly(x224.read_tpkt_length(header) - x224.TPKT_HEADER_SIZE)
    x224.parse_connection_confirm(confirm)


def open_session(args, timings=None):
    """Open one session along ``args.path``; return its stream.

    ``timings``, when given, receives the perf_counter() values "start",
    "opened" (TCP connected, and for WebSockets the upgrade done) and "ready"
    (the RDP byte stream usable: after TLS, or after the RDCleanPath response).
    """
    clock = time.perf_counter
    mark = timings.__setitem__ if timings is not None else (lambda key, value: None)
    mark("start", clock())
    sock = tcp_connect(args.host, args.port)

    if args.path in ("direct-tls", "direct-tcp"):
        mark("opened", clock())
        stream = SocketStream(sock)
        exchange_x224(stream.read_exactly, stream.send)
        if args.path == "direct-tls":
            stream.sock = client_tls_context().wrap_socket(sock)
        mark("ready", clock())
        return stream

    stream = WebSocketStream(sock, args.message_size)
    path = "/ws" if args.path == "gateway" else "/"
    stream.upgrade(args.host, args.port, path)
    mark("opened", clock())
    if args.path == "gateway":
        stream.send(rdcleanpath.encode_request("192.0.2.10:3389", args.token, x224_request()))
        reply = rdcleanpath.decode_response(stream.read_message())
        if not isinstance(reply, rdcleanpath.RDCleanPathResponse):
            raise ConnectionError(f"the gateway rejected the session: {reply}")
    else:
        exchange_x224(stream.read_exactly, stream.send)
    mark("ready", clock())
    return stream


# Timed modes


def wait_for_go():
    print(json.dumps({"ready": True}), flush=True)
    if not sys.stdin.readline():
        raise SystemExit("standard input closed before the go line")


def transfer(stream, direction, count, block, pdu_size):
    if direction == "client-to-server":
        stream.send(protocol.command(protocol.OP_SINK, count))
        stream.send_bulk(count, block)
        done = stream.read_exactly(len(protocol.SINK_DONE))
        if done != protocol.SINK_DONE:
            raise ConnectionError(f"unexpected reply {done!r} to a sink command")
    else:
        stream.send(protocol.command(protocol.OP_TRANSMIT, count, pdu_size))
        stream.discard(count)


def run_throughput(args):
    block = memoryview(os.urandom(protocol.BLOCK_SIZE))
    # The endpoint sends whole PDUs only.
    count = args.bytes - args.bytes % args.pdu_size if args.pdu_size else args.bytes
    warmup = args.warmup_bytes - args.warmup_bytes % args.pdu_size if args.pdu_size else args.warmup_bytes
    stream = open_session(args)
    if warmup:
        transfer(stream, args.direction, warmup, block, args.pdu_size)
    wait_for_go()
    cpu_before = time.process_time()
    started = time.perf_counter()
    transfer(stream, args.direction, count, block, args.pdu_size)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    stream.close()
    return {"bytes": count, "seconds": seconds, "client_cpu_seconds": cpu}


def run_latency(args):
    stream = open_session(args)
    stream.send(protocol.command(protocol.OP_ECHO))
    # A whole PDU, so that the gateway relays each echo as one message.
    message = protocol.fastpath_pdu(args.ping_size)
    for _ in range(args.warmup):
        stream.send(message)
        stream.read_exactly(len(message))
    wait_for_go()
    samples = []
    clock = time.perf_counter_ns
    cpu_before = time.process_time()
    for _ in range(args.count):
        started = clock()
        stream.send(message)
        stream.read_exactly(len(message))
        samples.append((clock() - started) / 1000)
    cpu = time.process_time() - cpu_before
    stream.close()
    return {"samples_us": samples, "client_cpu_seconds": cpu}


def run_setup(args):
    for _ in range(args.warmup):
        open_session(args).close()
    wait_for_go()
    opened = []
    ready = []
    total = []
    cpu_before = time.process_time()
    started = time.perf_counter()
    for _ in range(args.count):
        timings = {}
        stream = open_session(args, timings)
        stream.close()
        opened.append((timings["opened"] - timings["start"]) * 1e6)
        ready.append((timings["ready"] - timings["opened"]) * 1e6)
        total.append((timings["ready"] - timings["start"]) * 1e6)
    return {
        "open_us": opened, "ready_us": ready, "total_us": total,
        "seconds": time.perf_counter() - started,
        "client_cpu_seconds": time.process_time() - cpu_before,
    }


# Idle sessions


class IdleSessions:
    """Idle sessions held open with the websockets library, which replies to the gateway's pings."""

    def __init__(self, args):
        self.args = args
        self.sessions = []

    async def open_one(self):
        import websockets

        args = self.args
        path = "/ws" if args.path == "gateway" else "/"
        websocket = await websockets.connect(
            f"ws://{args.host}:{args.port}{path}", compression=None, max_size=None,
            open_timeout=args.open_timeout, ping_interval=None, close_timeout=1,
        )
        try:
            async with asyncio.timeout(args.open_timeout):
                if args.path == "gateway":
                    await websocket.send(rdcleanpath.encode_request("192.0.2.10:3389", args.token, x224_request()))
                    reply = rdcleanpath.decode_response(await websocket.recv())
                    if not isinstance(reply, rdcleanpath.RDCleanPathResponse):
                        raise ConnectionError(f"the gateway rejected the session: {reply}")
                else:
                    await websocket.send(x224_request())
                    received = b""
                    while len(received) < 19:
                        received += await websocket.recv()
        except BaseException:
            await websocket.close()
            raise
        self.sessions.append(websocket)

    async def open(self, count):
        semaphore = asyncio.Semaphore(self.args.concurrency)
        errors = collections.Counter()
        opened = 0

        async def open_guarded():
            nonlocal opened
            async with semaphore:
                if sum(errors.values()) >= self.args.max_failures:
                    errors["skipped after earlier failures"] += 1
                    return
                try:
                    await self.open_one()
                    opened += 1
                except Exception as error:
                    errors[f"{type(error).__name__}: {str(error)[:120]}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(open_guarded() for _ in range(count)))
        return {"opened": opened, "failed": sum(errors.values()) - errors["skipped after earlier failures"],
                "errors": dict(errors), "seconds": time.perf_counter() - started, "held": self.held()}

    def held(self):
        from websockets.protocol import State

        return sum(1 for websocket in self.sessions if websocket.state is State.OPEN)

    async def close(self):
        await asyncio.gather(*(websocket.close() for websocket in self.sessions), return_exceptions=True)
        self.sessions.clear()


async def run_idle(args):
    sessions = IdleSessions(args)
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": True}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "close":
            await sessions.close()
            print(json.dumps({"closed": True}), flush=True)
            return
        if words[0] == "open":
            result = await sessions.open(int(words[1]))
        else:
            result = {"held": sessions.held()}
        print(json.dumps(result), flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Load client of bench/gateway/run.py.")
    parser.add_argument("mode", choices=("throughput", "latency", "setup", "idle"))
    parser.add_argument("--path", choices=PATHS, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", help="Console token, for --path gateway.")
    parser.add_argument("--direction", choices=("client-to-server", "server-to-client"),
                        default="server-to-client")
    parser.add_argument("--bytes", type=int, default=256 * 1024 * 1024,
                        help="Bytes of the timed transfer (throughput).")
    parser.add_argument("--warmup-bytes", type=int, default=16 * 1024 * 1024,
                        help="Bytes of an untimed transfer first (throughput).")
    parser.add_argument("--message-size", type=int, default=256 * 1024,
                        help="Bytes per WebSocket message that the client sends (throughput).")
    parser.add_argument("--ping-size", type=int, default=64,
                        help="Bytes of each ping, a fast-path PDU echoed back by the endpoint (latency).")
    parser.add_argument("--pdu-size", type=int, default=16384,
                        help="Bytes of each fast-path PDU that the endpoint sends; 0 sends bytes "
                        "that start no PDU (throughput, server to client).")
    parser.add_argument("--count", type=int, default=5000,
                        help="Ping-pongs (latency) or sessions (setup) that are timed.")
    parser.add_argument("--warmup", type=int, default=200,
                        help="Untimed ping-pongs (latency) or sessions (setup) first.")
    parser.add_argument("--concurrency", type=int, default=100, help="Sessions opened at once (idle).")
    parser.add_argument("--open-timeout", type=float, default=10.0,
                        help="Seconds one idle session may take to open (idle).")
    parser.add_argument("--max-failures", type=int, default=20,
                        help="Failed sessions after which an open command stops trying (idle).")
    args = parser.parse_args(argv)
    if args.path == "gateway" and not args.token:
        parser.error("--path gateway needs --token")
    return args


def main(argv=None):
    args = parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.mode == "idle":
        asyncio.run(run_idle(args))
        return 0
    runner = {"throughput": run_throughput, "latency": run_latency, "setup": run_setup}[args.mode]
    print(json.dumps(runner(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
