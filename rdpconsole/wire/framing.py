"""Split the decrypted server-to-client RDP stream into whole PDUs.

The IronRDP web client (@devolutions/iron-remote-desktop-rdp 0.7.0) decodes
each WebSocket message as a sequence of PDUs and, at the end of the
connection sequence, discards whatever follows the Server Font Map PDU
(MS-RDPBCGR 2.2.1.22) in the same message. Part of a PDU there ends the
session with a decode error, and a whole one is lost. The gateway therefore
sends every PDU in a message of its own, which `PduFramer` makes possible.
"""

TPKT_VERSION = 3  # RFC 1006 section 6: first byte of every slow-path PDU
TPKT_MIN_LENGTH = 7  # TPKT header (4 bytes) plus the X.224 data TPDU header (3 bytes)
# MS-RDPBCGR 2.2.9.1.2: fpOutputHeader bits 0-1 are the action, 0 for fast-path;
# bits 2-5 are reserved and zero.
FASTPATH_ACTION_MASK = 0x03
FASTPATH_RESERVED_MASK = 0x3C
FASTPATH_MIN_LENGTH = 3  # header byte, 1-byte length, one byte of update data
DER_SEQUENCE_TAG = 0x30  # CredSSP TSRequest (MS-CSSP 2.2.1), sent before the RDP stream with NLA


class PduFramer:
    """Cut a byte stream into whole TPKT, fast-path and CredSSP PDUs.

    ``feed`` returns the PDUs completed so far and keeps a partial one for the
    next call. A stream whose next byte starts none of these PDUs cannot be
    framed: from then on the framer passes every byte through unchanged, in
    the chunks it was given (``passthrough`` becomes True).
    """

    __slots__ = ("_pending", "passthrough")

    def __init__(self):
        self._pending = b""
        self.passthrough = False

    @property
    def buffered(self):
        return len(self._pending)

    def feed(self, data):
        if self.passthrough:
            return [data] if data else []

        buffer = self._pending + data if self._pending else data
        pdus = []
        offset = 0
        end = len(buffer)
        while offset < end:
            length = pdu_length(buffer, offset)
            if length is None:
                break
            if length < 0:
                self.passthrough = True
                pdus.append(buffer[offset:])
                offset = end
                break
            if offset + length > end:
                break
            pdus.append(buffer[offset:offset + length])
            offset += length
        self._pending = buffer[offset:]
        return pdus


def pdu_length(buffer, offset):
    """Return the length of the PDU that starts at ``offset``.

    Returns None when more bytes are needed to know it, and -1 when the bytes
    start no known PDU.
    """
    available = len(buffer) - offset
    first = buffer[offset]

    if first == TPKT_VERSION:
        if available < 4:
            return None
        length = int.from_bytes(buffer[offset + 2:offset + 4], "big")
        return length if length >= TPKT_MIN_LENGTH else -1

    if first == DER_SEQUENCE_TAG:
        return _der_length(buffer, offset, available)

    if first & (FASTPATH_ACTION_MASK | FASTPATH_RESERVED_MASK) == 0:
        if available < 2:
            return None
        length = buffer[offset + 1]
        if length & 0x80:
            if available < 3:
                return None
            length = (length & 0x7F) << 8 | buffer[offset + 2]
        return length if length >= FASTPATH_MIN_LENGTH else -1

    return -1


def _der_length(buffer, offset, available):
    if available < 2:
        return None
    first_length_byte = buffer[offset + 1]
    if first_length_byte < 0x80:
        return 2 + first_length_byte
    count = first_length_byte & 0x7F
    if count == 0 or count > 4:
        return -1  # indefinite or absurd lengths never occur in a TSRequest
    if available < 2 + count:
        return None
    return 2 + count + int.from_bytes(buffer[offset + 2:offset + 2 + count], "big")
