"""Log line format and masking of console tokens."""

import io
import re
import logging
import time

import pytest

from rdpconsole import log

TOKEN = "0b6f8d3e-1c1a-4f57-9f0e-2b8c3c9a7d41"


@pytest.fixture
def captured():
    stream = io.StringIO()
    log.setup(debug=False, stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == log.HANDLER_NAME:
            root.removeHandler(handler)


def test_mask_query_token():
    assert log.mask_tokens(f"GET /?token={TOKEN}&title=x") == "GET /?token=***&title=x"


def test_mask_token_validation_path():
    text = f"GET /v2.1/os-console-auth-tokens/{TOKEN} 200"
    assert log.mask_tokens(text) == "GET /v2.1/os-console-auth-tokens/*** 200"


def test_mask_query_token_any_case():
    assert log.mask_tokens(f"GET /?TOKEN={TOKEN}") == "GET /?TOKEN=***"


def test_mask_leaves_other_text():
    assert log.mask_tokens("Issued console token 1a2b3c4d") == "Issued console token 1a2b3c4d"


def test_line_format(captured):
    logging.getLogger("rdpconsole.test").info("hello %s", "world")
    line = captured.getvalue().strip()
    assert line.endswith(" INFO rdpconsole.test hello world")
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", line)


def test_formatter_masks_arguments(captured):
    logging.getLogger("rdpconsole.test").warning("WebSocket %s", f"/?token={TOKEN}")
    assert TOKEN not in captured.getvalue()


def test_formatter_masks_tracebacks(captured):
    try:
        raise ValueError(f"bad url http://127.0.0.1:6083/?token={TOKEN}")
    except ValueError:
        logging.getLogger("rdpconsole.test").exception("failed")
    assert TOKEN not in captured.getvalue()


def test_uvicorn_info_hidden(captured):
    logging.getLogger("uvicorn.error").info("%s - \"WebSocket %s\" [accepted]", "127.0.0.1", "/")
    assert captured.getvalue() == ""


def test_uvicorn_access_disabled(captured):
    logging.getLogger("uvicorn.access").warning("GET / 200")
    assert captured.getvalue() == ""


def test_debug_level():
    stream = io.StringIO()
    log.setup(debug=True, stream=stream)
    try:
        assert logging.getLogger().level == logging.DEBUG
    finally:
        log.setup(debug=False, stream=io.StringIO())


def test_timestamp_follows_record_time():
    formatter = log.TokenMaskingFormatter(log.LOG_FORMAT, log.DATE_FORMAT)
    first = logging.LogRecord("rdpconsole.test", logging.INFO, __file__, 1, "one", None, None)
    second = logging.LogRecord("rdpconsole.test", logging.INFO, __file__, 2, "two", None, None)
    first.created = 1_700_000_000.25
    second.created = 1_700_000_001.5

    assert formatter.formatTime(first, log.DATE_FORMAT) != formatter.formatTime(second, log.DATE_FORMAT)
    assert formatter.formatTime(first, log.DATE_FORMAT) == time.strftime(
        log.DATE_FORMAT, time.localtime(first.created)
    )
