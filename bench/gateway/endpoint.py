"""An RDP-like endpoint for the gateway benchmark: X.224 Connection Confirm, TLS, then bulk data.

Listens on two free 127.0.0.1 ports and prints them as one JSON line
(``{"tls": PORT, "plain": PORT}``). On both, it reads the client's X.224
Connection Request and replies with a Connection Confirm that selects TLS
(``rdpconsole.wire.x224`` builds it). On the TLS port it then runs a TLS
server handshake with ``--cert`` and ``--key``; the plain port skips TLS,
for relays that do not speak TLS to the server (websockify). Then it serves
the commands of ``protocol.py`` until the connection ends. It runs until its
standard input closes.

Handshakes and commands run in a thread pool with blocking sockets, the
fastest way to move bytes through Python's ssl module. A connection waiting
for its next command holds no thread: it waits in one epoll selector, so
that 10,000 idle sessions cost 10,000 file descriptors and nothing else.

    python bench/gateway/endpoint.py --cert server.crt --key server.key
"""

import argparse
import concurrent.futures
import json
import os
import queue
import resource
import selectors
import socket
import ssl
import sys
import threading

import protocol
from rdpconsole.wire import x224

# Seconds a client gets for the X.224 request and the TLS handshake.
HANDSHAKE_TIMEOUT_SECONDS = 30
# Threads that run handshakes and commands at the same time. Each echo or
# bulk session occupies one, and idle sessions occupy none.
WORKERS = 128
LISTEN_BACKLOG = 4096


class Endpoint:
    """Two listeners (TLS and plain) sharing one thread pool and one selector of idle connections."""

    def __init__(self, tls_context):
        self._tls_context = tls_context
        self._pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="endpoint")
        self._selector = selectors.DefaultSelector()
        self._to_park = queue.SimpleQueue()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._transmit_blocks = {}
        self.listeners = {}

    def listen(self, name, use_tls):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(LISTEN_BACKLOG)
        self.listeners[name] = listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, args=(listener, use_tls), daemon=True).start()

    def run_selector(self):
        threading.Thread(target=self._selector_loop, daemon=True).start()

    def _accept_loop(self, listener, use_tls):
        while True:
            try:
                connection, _ = listener.accept()
            except OSError as error:
                print(f"endpoint: accept failed: {error}", file=sys.stderr, flush=True)
                threading.Event().wait(0.1)
                continue
            self._pool.submit(self._handshake, connection, use_tls)

    def _handshake(self, connection, use_tls):
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            header = _recv_exactly(connection, x224.TPKT_HEADER_SIZE)
            length = x224.read_tpkt_length(header)
            _recv_exactly(connection, length - x224.TPKT_HEADER_SIZE)
            connection.sendall(x224.build_connection_confirm(x224.Protocol.SSL))
            if use_tls:
                connection = self._tls_context.wrap_socket(connection, server_side=True)
            connection.settimeout(None)
        except (OSError, EOFError, ValueError) as error:
            _close(connection)
            if not isinstance(error, (EOFError, ConnectionError)):
                print(f"endpoint: handshake failed: {error}", file=sys.stderr, flush=True)
            return
        self._park(connection)

    def _park(self, connection):
        # Data that OpenSSL already decrypted raises no readiness event.
        if isinstance(connection, ssl.SSLSocket) and connection.pending():
            self._pool.submit(self._serve_command, connection)
            return
        self._to_park.put(connection)
        os.write(self._wake_write, b"x")

    def _selector_loop(self):
        while True:
            for key, _ in self._selector.select():
                if key.data is None:
                    self._register_parked()
                    continue
                self._selector.unregister(key.fileobj)
                self._pool.submit(self._serve_command, key.fileobj)

    def _register_parked(self):
        try:
            os.read(self._wake_read, 65536)
        except BlockingIOError:
            pass
        while True:
            try:
                connection = self._to_park.get_nowait()
            except queue.Empty:
                return
            self._selector.register(connection, selectors.EVENT_READ, connection)

    def _serve_command(self, connection):
        try:
            op, count, pdu_size = protocol.COMMAND.unpack(_recv_exactly(connection, protocol.COMMAND_SIZE))
            if op == protocol.OP_SINK:
                self._sink(connection, count)
            elif op == protocol.OP_TRANSMIT:
                self._transmit(connection, count, pdu_size)
            elif op == protocol.OP_ECHO:
                self._echo(connection)
                return
            else:
                raise ValueError(f"unknown command {op!r}")
        except (OSError, EOFError, ValueError) as error:
            _close(connection)
            if not isinstance(error, (EOFError, ConnectionError, ssl.SSLEOFError)):
                print(f"endpoint: command failed: {error}", file=sys.stderr, flush=True)
            return
        self._park(connection)

    @staticmethod
    def _sink(connection, count):
        buffer = bytearray(protocol.BLOCK_SIZE)
        remaining = count
        while remaining:
            received = connection.recv_into(buffer, min(len(buffer), remaining))
            if not received:
                raise EOFError("connection closed during a sink command")
            remaining -= received
        connection.sendall(protocol.SINK_DONE)

    def _transmit(self, connection, count, pdu_size):
        if pdu_size and count % pdu_size:
            raise ValueError(f"transmit count {count} is not a multiple of the PDU size {pdu_size}")
        block = self._transmit_blocks.get(pdu_size)
        if block is None:
            block = self._transmit_blocks[pdu_size] = memoryview(protocol.transmit_block(pdu_size))
        remaining = count
        while remaining:
            piece = block[:min(len(block), remaining)]
            connection.sendall(piece)
            remaining -= len(piece)

    @staticmethod
    def _echo(connection):
        buffer = bytearray(65536)
        view = memoryview(buffer)
        try:
            while True:
                received = connection.recv_into(buffer)
                if not received:
                    break
                connection.sendall(view[:received])
        finally:
            _close(connection)


def _recv_exactly(connection, size):
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return bytes(data)


def _close(connection):
    try:
        connection.close()
    except OSError:
        pass


def parse_args(argv):
    parser = argparse.ArgumentParser(description="RDP-like endpoint for bench/gateway/run.py.")
    parser.add_argument("--cert", required=True, help="PEM certificate of the TLS listener.")
    parser.add_argument("--key", required=True, help="PEM private key of --cert.")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    endpoint = Endpoint(context)
    endpoint.listen("tls", use_tls=True)
    endpoint.listen("plain", use_tls=False)
    endpoint.run_selector()
    print(json.dumps(endpoint.listeners), flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
