"""Split the decrypted server-to-client RDP stream into whole PDUs.

The IronRDP web client (@devolutions/iron-remote-desktop-rdp 0.7.0) decodes
each WebSocket message as a sequence of PDUs and, at the end of the
connection sequence, discards whatever follows the Server Font Map PDU
(MS-RDPBCGR 2.2.1.22) in the same message. Part of a PDU there ends the
session with a decode error, and a whole one is lost. The gateway therefore
sends every PDU in a message of its own until the Font Map PDU has gone out.
After it the client's own framing reassembles PDUs across messages, so the
stream is relayed in chunks as it arrives, which costs far less per byte.
"""

TPKT_VERSION = 3  # RFC 1006 section 6: first byte of every slow-path PDU
TPKT_MIN_LENGTH = 7  # TPKT header (4 bytes) plus the X.224 data TPDU header (3 bytes)
# MS-RDPBCGR 2.2.9.1.2: fpOutputHeader bits 0-1 are the action, 0 for fast-path;
# bits 2-5 are reserved and zero.
FASTPATH_ACTION_MASK = 0x03
FASTPATH_RESERVED_MASK = 0x3C
FASTPATH_MIN_LENGTH = 3  # header byte, 1-byte length, one byte of update data
DER_SEQUENCE_TAG = 0x30  # CredSSP TSRequest (MS-CSSP 2.2.1), sent before the RDP stream with NLA

# Offsets into a slow-path PDU: TPKT header (4 bytes, RFC 1006), X.224 data
# TPDU header (3 bytes, X.224 13.7), then the MCS Send Data Indication (T.125).
MCS_OFFSET = 7
MCS_SEND_DATA_INDICATION = 26  # DomainMCSPDU choice, in the top 6 bits of the first byte
# The Send Data Indication header: choice (1), initiator (2), channelId (2),
# dataPriority and segmentation (1), then a PER length of 1 or 2 bytes.
MCS_LENGTH_OFFSET = MCS_OFFSET + 6
PDUTYPE_DATAPDU = 0x7  # MS-RDPBCGR 2.2.8.1.1.1.1, low 4 bits of pduType
PDUTYPE2_FONTMAP = 0x28  # MS-RDPBCGR 2.2.8.1.1.1.2
SHARE_CONTROL_HEADER_SIZE = 6  # totalLength, pduType, pduSource
SHARE_DATA_PDUTYPE2_OFFSET = 8  # shareId (4), pad1, streamId, uncompressedLength (2)


class PduFramer:
    """Cut a byte stream into whole TPKT, fast-path and CredSSP PDUs.

    ``feed`` returns the PDUs completed so far and keeps a partial one for the
    next call. After the Server Font Map PDU, or when the next byte starts none
    of these PDUs, the framer passes every byte through unchanged, in the
    chunks it was given (``passthrough`` becomes True).
    """

    __slots__ = ("_pending", "passthrough", "passthrough_reason")

    def __init__(self):
        self._pending = b""
        self.passthrough = False
        self.passthrough_reason = None

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
                self.passthrough_reason = "the RDP server sent bytes that start no known PDU"
                pdus.append(buffer[offset:])
                offset = end
                break
            if offset + length > end:
                break
            pdu = buffer[offset:offset + length]
            pdus.append(pdu)
            offset += length
            if is_font_map(pdu):
                self.passthrough = True
                self.passthrough_reason = "the connection sequence ended with the Font Map PDU"
                if offset < end:
                    pdus.append(buffer[offset:])
                offset = end
                break
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


def is_font_map(pdu):
    """Return whether a whole slow-path PDU is the Server Font Map PDU (MS-RDPBCGR 2.2.1.22)."""
    if len(pdu) < MCS_LENGTH_OFFSET + 1 or pdu[0] != TPKT_VERSION:
        return False
    if pdu[MCS_OFFSET] >> 2 != MCS_SEND_DATA_INDICATION:
        return False
    length_size = 2 if pdu[MCS_LENGTH_OFFSET] & 0x80 else 1
    share_control = MCS_LENGTH_OFFSET + length_size
    pdu_type2 = share_control + SHARE_CONTROL_HEADER_SIZE + SHARE_DATA_PDUTYPE2_OFFSET
    if len(pdu) <= pdu_type2:
        return False
    pdu_type = int.from_bytes(pdu[share_control + 2:share_control + 4], "little")
    if pdu_type & 0x0F != PDUTYPE_DATAPDU:
        return False
    return pdu[pdu_type2] == PDUTYPE2_FONTMAP
