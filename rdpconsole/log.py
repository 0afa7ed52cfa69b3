"""Logging set-up shared by every rdpconsole command and service process.

Each line carries a timestamp, the level, the logger name and the message.
The formatter masks console tokens in every line it writes, tracebacks
included, as a second line of defence. Code must still never log a clear
token. uvicorn's WebSocket lines quote the request path with its query
string, so uvicorn's loggers stay at WARNING unless ``[DEFAULT] debug`` is set.
"""

import logging
import re
import sys

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MASK = "***"
HANDLER_NAME = "rdpconsole"

# A console token appears in a console URL's query (token=...) and in the
# path of the token-validation API (os-console-auth-tokens/<token>).
_TOKEN_PATTERNS = (
    re.compile(r"(?i)(\btoken=)[^&\s\"'<>]+"),
    re.compile(r"(os-console-auth-tokens/)[^/?\s\"'<>]+"),
)

# Loggers of libraries that are too verbose at INFO for an operator.
_QUIET_LOGGERS = ("uvicorn.error", "uvicorn.asgi", "alembic")


def mask_tokens(text):
    """Replace every console token in ``text`` with ``***``."""
    # Each pattern needs one of these substrings, which most lines lack, and
    # two substring tests cost far less than two regular expression scans.
    if "token=" not in text.lower() and "os-console-auth-tokens/" not in text:
        return text
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class TokenMaskingFormatter(logging.Formatter):
    """A formatter that masks console tokens in the whole formatted record.

    It also formats each second's timestamp once, because the Compute API
    writes a line per request.
    """

    def __init__(self, fmt=None, datefmt=None, *args, **kwargs):
        super().__init__(fmt, datefmt, *args, **kwargs)
        self._cached_second = None
        self._cached_datefmt = None
        self._cached_time = ""

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging.Formatter's name
        second = int(record.created)
        if second != self._cached_second or datefmt != self._cached_datefmt:
            self._cached_time = super().formatTime(record, datefmt)
            self._cached_second = second
            self._cached_datefmt = datefmt
        return self._cached_time

    def format(self, record):
        return mask_tokens(super().format(record))


def setup(debug=False, stream=None):
    """Send every log record to ``stream`` (standard error by default), at DEBUG or INFO.

    Replaces the handler that an earlier call installed and leaves other
    handlers (a test runner's, for example) in place.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TokenMaskingFormatter(LOG_FORMAT, DATE_FORMAT))
    handler.set_name(HANDLER_NAME)

    root = logging.getLogger()
    for old_handler in list(root.handlers):
        if old_handler.get_name() == HANDLER_NAME:
            root.removeHandler(old_handler)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)

    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)

    # The API writes its own access line per request, with the request id.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True

    logging.captureWarnings(True)
