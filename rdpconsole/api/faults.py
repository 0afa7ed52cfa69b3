"""The one place that turns exceptions into Nova fault responses.

A fault body is ``{"<name>": {"code": N, "message": "..."}}`` sent as
``application/json; charset=UTF-8``, with Nova's fault name for the status
(nova/api/openstack/wsgi.py Fault, 28.0.0). Domain exceptions carry their
status and exact message; ApiError carries the errors that only the HTTP
layer detects (Content-Type, malformed bodies, unknown actions).
"""

import json
import logging

from starlette.responses import Response

from rdpconsole.domain import exceptions

LOG = logging.getLogger(__name__)

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
DEFAULT_FAULT_NAME = "computeFault"

FAULT_CONTENT_TYPE = "application/json; charset=UTF-8"

# webob's default explanations, which Nova returns for bare webob exceptions.
GENERIC_NOT_FOUND = "The resource could not be found."
GENERIC_BAD_REQUEST = (
    "The server could not comply with the request since it is either "
    "malformed or otherwise incorrect."
)
NOT_IMPLEMENTED = "The requested functionality is not supported."

UNEXPECTED_ERROR = (
    "Unexpected API Error. Please report this at the rdpconsole issue tracker "
    "and attach the rdpconsole API log if possible.\n%s"
)


class ApiError(Exception):
    """An HTTP-level error with its status, exact message and extra response headers."""

    def __init__(self, code, message=None, headers=None):
        if message is None:
            message = GENERIC_NOT_FOUND if code == 404 else GENERIC_BAD_REQUEST
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def fault_body(code, message):
    name = FAULT_NAMES.get(code, DEFAULT_FAULT_NAME)
    return {name: {"code": code, "message": message}}


def fault_response(code, message, headers=None):
    """Return a Nova fault response."""
    body = json.dumps(fault_body(code, message)).encode("utf-8")
    response = Response(body, status_code=code, headers=headers)
    response.headers["Content-Type"] = FAULT_CONTENT_TYPE
    return response


def describe(error):
    """Return ``(status, message, headers)`` for any exception raised while handling a request."""
    if isinstance(error, ApiError):
        return error.code, error.message, error.headers

    if isinstance(error, exceptions.RdpconsoleError) and error.code < 500:
        return error.code, error.message, {}

    if isinstance(error, NotImplementedError):
        return 501, NOT_IMPLEMENTED, {}

    LOG.error("Unexpected exception in API method: %r", error, exc_info=error)
    return 500, UNEXPECTED_ERROR % type(error), {}


def exception_response(error):
    """Return the fault response of ``error``."""
    code, message, headers = describe(error)
    return fault_response(code, message, headers)
