"""Drive the console page in a Playwright page: sign in, wait for states, read the remote picture."""

import re
import time

from playwright.sync_api import expect

# Bounded waits in the browser. The first frame takes about 1 s on loopback
# with a warm browser; these leave room for a slow, loaded test machine.
CONNECT_TIMEOUT_MS = 30_000
PICTURE_TIMEOUT_SECONDS = 20.0
COLOUR_TOLERANCE = 8

# Share of canvas pixels near a colour, read from the open shadow root of <iron-remote-desktop>.
CANVAS_COLOUR_SHARE_JS = """([red, green, blue, tolerance]) => {
    const element = document.querySelector('iron-remote-desktop');
    const canvas = element?.shadowRoot?.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) {
        return 0;
    }
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let matching = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i] - red) <= tolerance && Math.abs(data[i + 1] - green) <= tolerance
                && Math.abs(data[i + 2] - blue) <= tolerance) {
            matching++;
        }
    }
    return matching / (data.length / 4);
}"""


def sign_in(page, username="user", password="password", domain=""):
    """Fill the sign-in form and select Connect. The shadow server runs without authentication."""
    page.locator("#login").wait_for(state="visible", timeout=CONNECT_TIMEOUT_MS)
    page.fill("#username", username)
    page.fill("#password", password)
    page.fill("#domain", domain)
    page.click("#connect")


def wait_for_status(page, pattern, timeout_ms=CONNECT_TIMEOUT_MS):
    """Wait until the status line matches `pattern` (a regular expression); return its text.

    On timeout the assertion message adds the page's error box and browser log lines.
    """
    status = page.locator("#status")
    try:
        expect(status).to_have_text(re.compile(pattern), timeout=timeout_ms)
    except AssertionError as error:
        shown_error = page.text_content("#error") if page.locator("#error").is_visible() else "(none)"
        log_lines = "\n".join(getattr(page, "log_lines", []))
        raise AssertionError(f"{error}\nerror box: {shown_error}\nbrowser log:\n{log_lines}") from None
    return status.text_content()


def error_message(page, timeout_ms=CONNECT_TIMEOUT_MS):
    """Wait for the page's error box and return its plain sentence."""
    page.locator("#error").wait_for(state="visible", timeout=timeout_ms)
    return page.text_content("#error-message")


def wait_for_colour(page, rgb, minimum_share, timeout=PICTURE_TIMEOUT_SECONDS):
    """Poll the remote desktop canvas until at least `minimum_share` of it is near `rgb`; return the last share."""
    deadline = time.monotonic() + timeout
    share = 0.0
    while time.monotonic() < deadline:
        share = page.evaluate(CANVAS_COLOUR_SHARE_JS, [*rgb, COLOUR_TOLERANCE])
        if share >= minimum_share:
            break
        time.sleep(0.2)
    return share


def wait_for_typed(desktop, text, timeout=PICTURE_TIMEOUT_SECONDS):
    """Poll the desktop's terminal record until it contains `text`; return the record."""
    deadline = time.monotonic() + timeout
    typed = desktop.typed_text()
    while text not in typed and time.monotonic() < deadline:
        time.sleep(0.1)
        typed = desktop.typed_text()
    return typed
