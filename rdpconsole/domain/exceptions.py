"""Domain errors. Each carries the HTTP status and the exact Nova message that
the Compute API returns for it; the API maps them to fault bodies in one place."""


class RdpconsoleError(Exception):
    """Base class. ``code`` is the HTTP status the Compute API returns."""

    code = 500
    msg_fmt = "An unknown error occurred."

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs
        self.message = message
        super().__init__(message)


class Invalid(RdpconsoleError):
    code = 400
    msg_fmt = "Bad Request - Invalid Parameters"


class ValidationError(Invalid):
    msg_fmt = "%(detail)s"


class NotFound(RdpconsoleError):
    code = 404
    msg_fmt = "Resource could not be found."


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class InvalidToken(NotFound):
    """Unknown or expired console token; the API returns Nova's 'Token not found'."""

    msg_fmt = "Token not found"


class Conflict(RdpconsoleError):
    code = 409
    msg_fmt = "Conflict"


class InstanceNotReady(Conflict):
    msg_fmt = "Instance %(instance_id)s is not ready"


class InstanceInvalidState(Conflict):
    # Nova 28.0.0 returned 500 here for RDP. Returning 409 is a deliberate fix.
    msg_fmt = "Cannot '%(method)s' instance %(instance_uuid)s while it is in %(attr)s %(state)s"


class ConsoleTypeUnavailable(Invalid):
    msg_fmt = "Unavailable console type %(console_type)s."


class ConsoleTypeInvalid(Invalid):
    msg_fmt = "Invalid console type %(console_type)s"


class PolicyNotAuthorized(RdpconsoleError):
    code = 403
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class TokenInUse(RdpconsoleError):
    """A freshly generated token hashed to a stored one: practically impossible with UUID4."""

    code = 500
    msg_fmt = "The console token is already in use."


class ServerExists(Conflict):
    msg_fmt = "A server with id %(uuid)s already exists."
