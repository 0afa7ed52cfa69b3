"""The gateway's connection to an RDP server: TCP connect, X.224 exchange, TLS and relay I/O.

TLS runs on a non-blocking ``ssl.SSLSocket`` that the event loop watches
with ``add_reader`` and ``add_writer``, so that an idle session holds little
memory. The two asyncio alternatives hold much more, measured with Python
3.11.7 and OpenSSL 3.0 on this project's test machine:

- ``StreamWriter.start_tls`` allocates a 256 KiB read buffer per connection
  (``SSLProtocol.max_size`` in ``asyncio/sslproto.py``) and fills it with zeros.
- ``ssl.MemoryBIO`` never gives memory back: after one 256 KiB write and
  read, each BIO still held 256 KiB (200 BIOs: +52 MB resident).

With an SSLSocket, OpenSSL reads records from the socket itself and, with the
SSL_MODE_RELEASE_BUFFERS mode that CPython sets, frees its record buffers
while the connection is idle. Decrypted data goes through one scratch
buffer per thread before it is copied into the chunks handed to the browser.
"""

import asyncio
import errno
import socket
import ssl
import threading

from rdpconsole.gateway import errors
from rdpconsole.gateway import rdp_tls
from rdpconsole.wire import WireError
from rdpconsole.wire import x224
from rdpconsole.wire.wsa import wsa_error_for

# Bytes. Windows and FreeRDP reply to the X.224 Connection Request with a 19-byte
# Confirm (MS-RDPBCGR 2.2.1.2); Devolutions Gateway allows 512 bytes, and so does this.
MAX_CONFIRM_SIZE = 512

# Bytes of decrypted data that one scratch-buffer pass collects before it is
# copied out as one chunk: 16 TLS records of 16 KiB of plaintext (RFC 8446
# section 5.1). A chunk usually becomes one WebSocket message as it is, so a
# large chunk saves copies and per-message work when the screen changes fast.
DECRYPT_CHUNK_SIZE = 256 * 1024

# Bytes of decrypted server data waiting for the browser at which the gateway
# stops reading from the RDP server, until the browser catches up: two
# chunks, so that reading goes on while one chunk is being sent. One read
# callback also stops after one chunk, so that one busy session cannot hold
# the event loop.
READ_PAUSE_THRESHOLD = 2 * DECRYPT_CHUNK_SIZE

# Bytes of encrypted data queued towards the RDP server (beyond what the
# kernel's socket buffer took) above which writers wait.
WRITE_HIGH_WATER = 256 * 1024

_scratch = threading.local()


def _scratch_view():
    view = getattr(_scratch, "view", None)
    if view is None:
        view = _scratch.view = memoryview(bytearray(DECRYPT_CHUNK_SIZE))
    return view


class RdpConnection:
    """One TCP connection to an RDP server, first raw for X.224, then TLS.

    ``exchange_x224`` and ``start_tls`` run the connection sequence; then
    ``read`` returns decrypted server data and ``write`` encrypts client data.
    Only one coroutine may wait in ``read`` at a time, and only one in ``drain``.
    """

    __slots__ = (
        "_loop", "_sock", "_tls", "_fd", "_peer", "_chunks", "_chunks_size", "_eof", "_error",
        "_read_waiter", "_reading", "_write_queue", "_write_queued", "_writing",
        "_drain_waiter", "_closed",
    )

    def __init__(self, loop, sock, peer):
        self._loop = loop
        self._sock = sock
        self._tls = None
        self._fd = sock.fileno()
        self._peer = peer
        self._chunks = []
        self._chunks_size = 0
        self._eof = False
        self._error = None
        self._read_waiter = None
        self._reading = False
        self._write_queue = []
        self._write_queued = 0
        self._writing = False
        self._drain_waiter = None
        self._closed = False

    # Raw phase: X.224

    async def exchange_x224(self, request, max_size=MAX_CONFIRM_SIZE):
        """Send the client's X.224 Connection Request unchanged; return the server's whole TPKT reply.

        Reads exactly one TPKT, so that no byte of the server's TLS handshake
        is taken. Raises UpstreamClosed when the server closes first and
        X224Failed when the reply is not a TPKT of at most ``max_size`` bytes.
        """
        try:
            await self._loop.sock_sendall(self._sock, request)
        except OSError as error:
            raise errors.UpstreamClosed(f"connection to the RDP server lost: {error}") from None
        header = await self._recv_exactly(x224.TPKT_HEADER_SIZE)
        try:
            length = x224.read_tpkt_length(header, max_size)
        except WireError as error:
            raise errors.X224Failed(f"the RDP server's reply is not an X.224 Connection Confirm: {error}") from None
        return header + await self._recv_exactly(length - x224.TPKT_HEADER_SIZE)

    async def _recv_exactly(self, size):
        data = bytearray()
        while len(data) < size:
            try:
                chunk = await self._loop.sock_recv(self._sock, size - len(data))
            except OSError as error:
                raise errors.UpstreamClosed(f"connection to the RDP server lost: {error}") from None
            if not chunk:
                raise errors.UpstreamClosed("the RDP server closed the connection")
            data += chunk
        return bytes(data)

    # TLS

    async def start_tls(self, context, server_hostname):
        """Run the TLS handshake as a client on this connection.

        Raises ssl.SSLError subclasses on a failed handshake and UpstreamClosed
        when the connection is lost.
        """
        try:
            self._tls = context.wrap_socket(
                self._sock, server_side=False, do_handshake_on_connect=False, server_hostname=server_hostname
            )
        except ssl.SSLError:
            raise
        except OSError as error:
            raise errors.UpstreamClosed(f"connection to the RDP server lost before TLS: {error}") from None
        # wrap_socket took over the file descriptor of the plain socket.
        self._sock = None
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._wait_for(self._loop.add_reader, self._loop.remove_reader)
            except ssl.SSLWantWriteError:
                await self._wait_for(self._loop.add_writer, self._loop.remove_writer)
            except ssl.SSLEOFError:
                raise errors.UpstreamClosed("the RDP server closed the connection during the TLS handshake") from None
            except ssl.SSLError:
                raise
            except OSError as error:
                raise errors.UpstreamClosed(f"connection to the RDP server lost during the TLS handshake: {error}") from None
        self._start_reading()

    async def _wait_for(self, add, remove):
        waiter = self._loop.create_future()
        add(self._fd, _set_done, waiter)
        try:
            await waiter
        finally:
            remove(self._fd)

    def peer_certificate_chain(self):
        """Return the server's certificates as DER, leaf first.

        The whole chain needs Python 3.13's ``SSLSocket.get_unverified_chain()``;
        older Pythons give the leaf only, which is what IronRDP's client uses.
        """
        get_chain = getattr(self._tls, "get_unverified_chain", None)
        if get_chain is not None:
            chain = get_chain()
            if chain:
                return [bytes(certificate) for certificate in chain]
        leaf = self._tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []

    def peer_address(self):
        """Return the address connected to as host:port, with an IPv6 address in brackets."""
        return rdp_tls.format_host_port(self._peer[0], self._peer[1])

    # Relay: reading

    def _start_reading(self):
        if not self._reading and not self._closed and not self._eof:
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable)

    def _stop_reading(self):
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _on_readable(self):
        if self._closed:
            return
        view = _scratch_view()
        filled = 0
        collected = 0
        while collected < DECRYPT_CHUNK_SIZE:
            try:
                count = self._tls.recv_into(view[filled:], DECRYPT_CHUNK_SIZE - filled)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLWantWriteError:
                # A TLS 1.2 renegotiation would need this; RDP servers do not renegotiate.
                self._fail(ConnectionError("the RDP server started a TLS renegotiation"))
                break
            except (ssl.SSLError, OSError) as error:
                self._fail(error)
                break
            if count == 0:
                self._eof = True
                self._stop_reading()
                break
            filled += count
            collected += count
            if filled == DECRYPT_CHUNK_SIZE:
                self._take_scratch(view, filled)
                filled = 0
        if filled:
            self._take_scratch(view, filled)

        if self._chunks_size >= READ_PAUSE_THRESHOLD:
            self._stop_reading()
        elif collected >= DECRYPT_CHUNK_SIZE and self._tls.pending():
            # OpenSSL has buffered decrypted data, which no readiness event will announce.
            self._loop.call_soon(self._on_readable)
        self._wake_reader()

    def _take_scratch(self, view, filled):
        self._chunks.append(bytes(view[:filled]))
        self._chunks_size += filled

    async def read(self, max_size):
        """Return decrypted server data, at most ``max_size`` bytes unless one chunk is larger; b"" at the end.

        Raises UpstreamClosed when the connection ended on an error.
        """
        while not self._chunks:
            if self._error is not None:
                raise errors.UpstreamClosed(f"connection to the RDP server failed: {_describe(self._error)}")
            if self._eof or self._closed:
                return b""
            self._read_waiter = self._loop.create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None

        count = 1
        size = len(self._chunks[0])
        while count < len(self._chunks) and size + len(self._chunks[count]) <= max_size:
            size += len(self._chunks[count])
            count += 1
        if count == 1:
            data = self._chunks.pop(0)
        else:
            data = b"".join(self._chunks[:count])
            del self._chunks[:count]
        self._chunks_size -= size

        if not self._reading and self._chunks_size < READ_PAUSE_THRESHOLD and not self._eof:
            self._start_reading()
            # Data that OpenSSL decrypted before reading paused raises no readiness event.
            if self._tls.pending():
                self._loop.call_soon(self._on_readable)
        return data

    def _wake_reader(self):
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Relay: writing

    def write(self, data):
        """Encrypt and send ``data``; what the socket does not take now is queued.

        Call ``drain`` when ``must_drain`` is true. Raises UpstreamClosed after
        the connection ended.
        """
        if self._closed or self._error is not None:
            raise errors.UpstreamClosed("the connection to the RDP server is closed")
        if self._write_queue:
            self._queue(data)
            return
        remaining = self._send(memoryview(data))
        if remaining is not None:
            self._queue(remaining)

    def _send(self, view):
        """Send as much of ``view`` as the socket takes; return the unsent rest, or None."""
        while view:
            try:
                sent = self._tls.send(view)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return view
            except (ssl.SSLError, OSError) as error:
                self._fail(error)
                raise errors.UpstreamClosed(f"writing to the RDP server failed: {_describe(error)}") from None
            view = view[sent:]
        return None

    def _queue(self, data):
        # A retried SSL_write must see the same bytes, so queued data is kept as is.
        self._write_queue.append(bytes(data))
        self._write_queued += len(data)
        if not self._writing:
            self._writing = True
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_writable(self):
        while self._write_queue:
            head = self._write_queue[0]
            try:
                remaining = self._send(memoryview(head))
            except errors.UpstreamClosed:
                return
            if remaining is not None:
                sent = len(head) - len(remaining)
                if sent:
                    self._write_queue[0] = bytes(remaining)
                    self._write_queued -= sent
                return
            self._write_queue.pop(0)
            self._write_queued -= len(head)
        self._writing = False
        self._loop.remove_writer(self._fd)
        self._release_drain_waiter()

    @property
    def must_drain(self):
        """True while more than WRITE_HIGH_WATER bytes wait to be sent to the server."""
        return self._write_queued > WRITE_HIGH_WATER

    async def drain(self):
        """Wait until the queue towards the server is empty or the connection ended."""
        if not self._write_queue or self._closed:
            return
        self._drain_waiter = self._loop.create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    def _release_drain_waiter(self):
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Closing

    def _fail(self, error):
        if self._error is None:
            self._error = error
        self._eof = True
        self._stop_reading()
        self._stop_writing()
        self._wake_reader()
        self._release_drain_waiter()

    def _stop_writing(self):
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        self._write_queue.clear()
        self._write_queued = 0

    def abort(self):
        """Close the connection at once, dropping queued data, and wake every waiter."""
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        self._stop_writing()
        sock = self._tls or self._sock
        if sock is not None:
            sock.close()
        self._wake_reader()
        self._release_drain_waiter()


def _set_done(waiter):
    if not waiter.done():
        waiter.set_result(None)


def _describe(error):
    if isinstance(error, ExceptionGroup):
        return "; ".join(_describe(member) for member in error.exceptions)
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason
    return str(error) or type(error).__name__


async def open_connection(host, port):
    """Open a TCP connection to host:port (an IP address or a name; IPv6 works) and return its RdpConnection.

    Every address of the name is tried in turn. Raises ConnectFailed with the
    Windows Sockets error code of the failure. Timeouts are the caller's.
    """
    loop = asyncio.get_running_loop()
    target = rdp_tls.format_host_port(host, port)
    try:
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise errors.ConnectFailed(f"cannot resolve {target}: {_describe(error)}",
                                   wsa_last_error=wsa_error_for(error)) from None

    failures = []
    for family, kind, proto, _name, address in addresses:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as error:
            # EMFILE at the process's open-files limit: the browser gets WSA 10024.
            failures.append(error)
            continue
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as error:
            sock.close()
            failures.append(error)
            continue
        except BaseException:
            sock.close()
            raise
        # RDP sends many small input PDUs: do not let Nagle's algorithm delay them.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return RdpConnection(loop, sock, address)

    if not failures:
        failures.append(OSError(errno.EADDRNOTAVAIL, "no address"))
    error = failures[0] if len(failures) == 1 else ExceptionGroup("every address failed", failures)
    raise errors.ConnectFailed(f"connect to {target} failed: {_describe(error)}",
                               wsa_last_error=wsa_error_for(error))
