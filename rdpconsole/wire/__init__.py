"""Wire formats of the console gateway, as pure functions and sans-I/O objects.

Nothing here opens a socket: the gateway reads and writes bytes and hands them
to these modules.

- ``rdcleanpath``: the RDCleanPath PDU that IronRDP's web client exchanges with
  the gateway (DER, version 3390).
- ``assembler``: reassembles one DER PDU that arrives split over WebSocket messages.
- ``der``: DER tag and length header reading, shared by the two above.
- ``x224``: TPKT framing and the X.224 Connection Request and Confirm with RDP
  negotiation (MS-RDPBCGR 2.2.1.1 and 2.2.1.2).
- ``preconnection``: the RDP_PRECONNECTION_PDU (MS-RDPEPS 2.2.1).
- ``wsa``: Windows Sockets error codes for failed connects.
- ``framing``: splits the server-to-client stream into whole PDUs for the web client.

Every decoder raises only subclasses of ``WireError`` on invalid input.
"""

from rdpconsole.wire.errors import WireError

__all__ = ["WireError"]
