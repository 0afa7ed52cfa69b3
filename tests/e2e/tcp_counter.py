"""A loopback TCP forwarder that counts the connections it accepts (test helper).

Put in front of the RDP server, it shows whether the gateway opened a
connection to the server at all, for example for an expired token.
"""

import asyncio
import threading


class CountingForwarder:
    """Listen on 127.0.0.1 (a free port) and forward every connection to `target_host:target_port`."""

    def __init__(self, target_host, target_port):
        self.target_host = target_host
        self.target_port = target_port
        self.port = None
        self._count = 0
        self._lock = threading.Lock()
        self._loop = None
        self._stop = None
        self._thread = None

    @property
    def count(self):
        """Connections accepted so far."""
        with self._lock:
            return self._count

    def start(self):
        started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(started)), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("TCP forwarder did not start within 10 s")
        return self

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    async def _main(self, started):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await self._stop.wait()

    async def _forward(self, client_reader, client_writer):
        with self._lock:
            self._count += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_writer.close()
            return

        async def pipe(reader, writer):
            try:
                while chunk := await reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
