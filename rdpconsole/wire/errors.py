"""The base exception of the wire format modules."""


class WireError(ValueError):
    """Invalid bytes on the wire. Every decoder in ``rdpconsole.wire`` raises a subclass."""
