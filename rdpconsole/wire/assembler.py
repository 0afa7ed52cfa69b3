"""Reassembly of one DER-encoded RDCleanPath request from WebSocket messages.

The web client may split its request over several binary messages. The
gateway feeds every message to a ``RequestAssembler`` until it returns the
complete PDU, then decodes it with ``rdcleanpath.decode_request``.
"""

from rdpconsole.wire.der import (
    SEQUENCE_TAG,
    PduTooLargeError,
    TrailingBytesError,
    UnexpectedTagError,
    read_header,
)

# Maximum RDCleanPath request size in bytes. IronRDP's web client (npm 0.7.0)
# sends about 96 bytes, of which 42 are the X.224 Connection Request. Long
# console tokens, preconnection blobs and X.224 routing cookies stay far below
# 64 KiB, while the limit still bounds what an unauthenticated client can make
# the gateway buffer.
DEFAULT_MAX_REQUEST_SIZE = 64 * 1024


class RequestAssembler:
    """Sans-I/O reassembler for one DER SEQUENCE with a size limit.

    Raises the ``rdpconsole.wire.der.DerFramingError`` subclasses: an outer tag
    other than SEQUENCE (``UnexpectedTagError``), an indefinite or non-DER
    length (``IndefiniteLengthError``, ``InvalidLengthError``), a PDU over
    ``max_size`` (``PduTooLargeError``, raised as soon as the length is known)
    and bytes beyond the end of the PDU (``TrailingBytesError``).
    """

    def __init__(self, max_size: int = DEFAULT_MAX_REQUEST_SIZE):
        if max_size < 2:
            raise ValueError(f"max_size must be at least 2 bytes, got {max_size}")
        self.max_size = max_size
        self._buffer = bytearray()
        self._total_length: int | None = None
        self._complete = False

    @property
    def buffered(self) -> int:
        """Number of bytes received so far."""
        return len(self._buffer)

    @property
    def complete(self) -> bool:
        """True once ``feed`` has returned the PDU."""
        return self._complete

    def feed(self, data: bytes) -> bytes | None:
        """Append ``data``; return the whole PDU once it has arrived, else None."""
        if self._complete:
            if data:
                raise TrailingBytesError(
                    f"received {len(data)} bytes after the complete RDCleanPath request; "
                    "the client must wait for the response",
                    trailing=len(data),
                )
            return None

        self._buffer += data
        if not self._buffer:
            return None

        if self._buffer[0] != SEQUENCE_TAG:
            raise UnexpectedTagError(
                f"RDCleanPath request starts with 0x{self._buffer[0]:02x}, "
                f"expected 0x{SEQUENCE_TAG:02x} (DER SEQUENCE)"
            )

        if self._total_length is None:
            header = read_header(self._buffer)
            if header is None:
                return None
            if header.total_length > self.max_size:
                raise PduTooLargeError(
                    f"RDCleanPath request declares {header.total_length} bytes, "
                    f"more than the limit of {self.max_size} bytes",
                    size=header.total_length,
                    max_size=self.max_size,
                )
            self._total_length = header.total_length

        if len(self._buffer) < self._total_length:
            return None
        if len(self._buffer) > self._total_length:
            trailing = len(self._buffer) - self._total_length
            raise TrailingBytesError(
                f"received {trailing} bytes after the {self._total_length}-byte RDCleanPath "
                "request; the client must wait for the response",
                trailing=trailing,
            )

        self._complete = True
        return bytes(self._buffer)
