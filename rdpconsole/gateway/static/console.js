// Console page: signs in to a server's RDP desktop through the console gateway with the IronRDP web client.
//
// The console token comes from the page URL (?token=...) and travels to the
// gateway as the RDCleanPath proxy_auth field. The user name, password and
// domain go only into the web client's configuration: they are never
// submitted as a form, stored or logged.

import './iron-remote-desktop.js';
import { Backend, displayControl, enableCredssp, init } from './iron-remote-desktop-rdp.js';

// IronErrorKind of @devolutions/iron-remote-desktop 0.11.0 (index.d.ts).
const ErrorKind = Object.freeze({
    General: 0,
    WrongPassword: 1,
    LogonFailure: 2,
    AccessDenied: 3,
    RDCleanPath: 4,
    ProxyConnect: 5,
    NegotiationFailure: 6,
});

// ScreenScale of @devolutions/iron-remote-desktop 0.11.0.
const ScreenScale = Object.freeze({ Fit: 1, Full: 2, Real: 3 });

// The web client requires a destination, but the gateway takes the target
// only from the token's record and ignores this value.
const DESTINATION_PLACEHOLDER = 'console-token-target:3389';

// Log level of the RDP backend's tracing output in the browser console. Debug
// levels print decoded PDUs, which can include the logon information PDU.
const BACKEND_LOG_LEVEL = 'WARN';

// Desktop size limits of a Display Control monitor layout (MS-RDPEDISP 2.2.2.2.1): 200 to 8192 pixels, even width.
const MIN_DESKTOP_SIDE = 200;
const MAX_DESKTOP_SIDE = 8192;

const NEW_URL_HINT = 'Request a new console URL from the dashboard or with `openstack console url show --rdp <server>`.';

// Windows Sockets error codes that the gateway reports in RDCleanPath errors
// (WSA error codes, Windows Sockets 2 documentation).
const SOCKET_ERROR_SENTENCES = new Map([
    [10061, 'The server refused the remote desktop connection. Check that the server is running and that Remote Desktop is enabled on it, then connect again.'],
    [10060, 'The connection to the server timed out. The server may still be starting or be unreachable from the console gateway. Wait a moment and connect again.'],
    [11001, 'The console gateway could not find the server\'s console host by name. Ask your cloud operator to check the console address of the compute host.'],
    [10065, 'The server\'s console address is unreachable from the console gateway (no route to host). Ask your cloud operator to check the network between the gateway and the compute host.'],
    [10051, 'The server\'s console address is unreachable from the console gateway (network unreachable). Ask your cloud operator to check the network between the gateway and the compute host.'],
    [10054, 'The server reset the remote desktop connection. Check that Remote Desktop is enabled on the server, then connect again.'],
    [10053, 'The remote desktop connection was aborted on the console gateway. Connect again.'],
]);

const HTTP_STATUS_SENTENCES = new Map([
    [401, 'This page was opened without a console token. ' + NEW_URL_HINT],
    [403, 'The console gateway rejected this connection (forbidden). Open the console URL directly instead of through another site or proxy, or ask your cloud operator.'],
    [404, 'This console link is invalid or has expired. ' + NEW_URL_HINT],
    [429, 'Too many console sessions are open with this console link. Close another console of this server, or request a new console URL, then connect again.'],
    [501, 'Consoles of Hyper-V virtual machines are not supported yet. Connect to the server with another RDP client, or ask your cloud operator.'],
]);

// Return a plain sentence for an error thrown by the web client, plus its technical text.
//
// The RDP backend rejects with an IronError object that has kind(), backtrace()
// and rdcleanpathDetails(). The web component's own helpers reject with objects
// that have only kind() and backtrace(). Anything else is an Error or a plain value.
export function describeError(error, { connected = false } = {}) {
    const kind = typeof error?.kind === 'function' ? error.kind() : undefined;
    const text = typeof error?.backtrace === 'function' ? error.backtrace() : String(error?.message ?? error);
    const details = kind === ErrorKind.RDCleanPath && typeof error.rdcleanpathDetails === 'function'
        ? error.rdcleanpathDetails()
        : undefined;

    return { message: sentenceFor(kind, details, text, connected), text };
}

function sentenceFor(kind, details, text, connected) {
    switch (kind) {
        case ErrorKind.RDCleanPath:
            return rdcleanpathSentence(details);
        case ErrorKind.ProxyConnect:
            return 'The browser could not open a connection to the console gateway. Check your network connection and reload the page. If the console is embedded in another site, open the console URL directly.';
        case ErrorKind.WrongPassword:
            return 'The user name or password is incorrect. Check them and connect again.';
        case ErrorKind.LogonFailure:
            return 'The server rejected the sign-in. Check the user name, password and domain, and that the account may sign in over Remote Desktop.';
        case ErrorKind.AccessDenied:
            return 'The server denied access to this account. Ask the server\'s administrator to allow Remote Desktop sign-in for it.';
        case ErrorKind.NegotiationFailure:
            return 'The server rejected the security settings of the connection (RDP negotiation failed). Check the server\'s Remote Desktop security settings (TLS or Network Level Authentication), then connect again.';
        default:
            if (connected) {
                return 'The remote desktop connection was closed. Connect again. If the console link has expired, ' + NEW_URL_HINT.charAt(0).toLowerCase() + NEW_URL_HINT.slice(1);
            }
            return 'The connection to the server failed. Connect again, and if it keeps failing, show the technical details below to your cloud operator.';
    }
}

function rdcleanpathSentence(details) {
    const httpStatus = details?.httpStatusCode;
    const socketError = details?.wsaErrorCode;
    const tlsAlert = details?.tlsAlertCode;

    if (httpStatus !== undefined && HTTP_STATUS_SENTENCES.has(httpStatus)) {
        return HTTP_STATUS_SENTENCES.get(httpStatus);
    }
    if (httpStatus !== undefined) {
        return `The console gateway rejected the connection (HTTP status ${httpStatus}). Connect again, and if it keeps failing, ask your cloud operator.`;
    }
    if (socketError !== undefined) {
        return SOCKET_ERROR_SENTENCES.get(socketError)
            ?? `The console gateway could not reach the server (Windows Sockets error ${socketError}). Check that the server is running, then connect again.`;
    }
    if (tlsAlert !== undefined) {
        return `The secure connection between the console gateway and the server failed (TLS alert ${tlsAlert}). Ask your cloud operator to check the server's Remote Desktop certificate.`;
    }
    return 'The console gateway could not open a secure connection to the server\'s remote desktop. Connect again, and if it keeps failing, ask your cloud operator to check the gateway log.';
}

// Return the gateway's WebSocket URL: "ws" next to the page's own path, with the scheme switched to ws or wss.
export function gatewayUrl(pageHref) {
    const url = new URL('ws', pageHref);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    url.hash = '';
    return url.href;
}

// Backend.SessionBuilder with the page's own clipboard callbacks.
//
// The web component's clipboard service needs the async Clipboard API and a
// secure context. This page exchanges plain text through two text areas
// instead, so it works over plain HTTP too. The page turns the component's
// clipboard off with setEnableClipboard(false) and registers these callbacks
// on the builder right before connect().
// NOTE: the text exchange with a server that has a clipboard channel (Windows,
// xrdp) has no automated test, because the test rig's shadow server has none.
class ClipboardSessionBuilder extends Backend.SessionBuilder {
    connect() {
        super.remoteClipboardChangedCallback((data) => clipboard.receive(data));
        super.forceClipboardUpdateCallback(() => clipboard.resend());
        return super.connect().then((session) => {
            clipboard.session = session;
            return session;
        });
    }
}

const consoleBackend = Object.freeze({ ...Backend, SessionBuilder: ClipboardSessionBuilder });

const clipboard = {
    session: null,
    // True once the server has started its clipboard channel with a Monitor
    // Ready PDU (MS-RDPECLIP). FreeRDP 2.11's shadow server has no clipboard
    // channel and drops the connection when it receives clipboard PDUs.
    ready: false,
    lastSent: null,

    receive(data) {
        for (const item of data.items()) {
            if (item.mimeType().startsWith('text/') && typeof item.value() === 'string') {
                ui.clipboardRemote.value = item.value();
                return;
            }
        }
    },

    // The server requests the client's format list when its clipboard channel starts.
    resend() {
        this.ready = true;
        this.paste(this.lastSent ?? '').catch(() => {});
    },

    async paste(text) {
        if (this.session === null || !this.ready) {
            throw new ClipboardUnavailable();
        }
        const data = new Backend.ClipboardData();
        if (text !== '') {
            data.addText('text/plain', text);
        }
        this.lastSent = text;
        await this.session.onClipboardPaste(data);
    },

    reset() {
        this.session = null;
        this.ready = false;
        this.lastSent = null;
        ui.clipboardRemote.value = '';
    },
};

class ClipboardUnavailable extends Error {
    constructor() {
        super('The server has not enabled clipboard sharing for this session.');
        this.name = 'ClipboardUnavailable';
    }
}

const ui = {};
const state = {
    token: null,
    serverName: null,
    userInteraction: null,
    connected: false,
    disconnecting: false,
};

function byId(id) {
    return document.getElementById(id);
}

function setStatus(text) {
    ui.status.textContent = text;
}

function showError(message, text) {
    ui.errorMessage.textContent = message;
    ui.errorText.textContent = text ?? '';
    ui.errorDetails.hidden = !text;
    ui.error.hidden = false;
}

function clearError() {
    ui.error.hidden = true;
    ui.errorMessage.textContent = '';
    ui.errorText.textContent = '';
}

function showLoginForm() {
    ui.console.hidden = true;
    ui.login.hidden = false;
    ui.connectButton.disabled = false;
    (ui.username.value === '' ? ui.username : ui.password).focus();
}

// Return the size, in pixels, that the remote desktop would need to fill the screen area without scaling.
function availableDesktopSize() {
    const box = ui.screen.getBoundingClientRect();
    const clamp = (value) => Math.max(MIN_DESKTOP_SIDE, Math.min(MAX_DESKTOP_SIDE, Math.floor(value / 2) * 2));
    return { width: clamp(box.width || window.innerWidth), height: clamp(box.height || window.innerHeight) };
}

// Attach a fresh <iron-remote-desktop> element and return its control object once it fires `ready`.
function createRemoteDesktop() {
    const element = document.createElement('iron-remote-desktop');
    // The element reads `module` once, when it initialises: set it before attaching.
    element.module = consoleBackend;
    element.setAttribute('scale', 'fit');
    element.setAttribute('flexcenter', 'true');
    element.setAttribute('verbose', 'false');

    const ready = new Promise((resolve) => {
        element.addEventListener('ready', (event) => resolve(event.detail.irgUserInteraction), { once: true });
    });
    ui.screen.replaceChildren(element);
    ui.remoteDesktop = element;
    return ready;
}

async function connect(credentials) {
    clearError();
    ui.login.hidden = true;
    ui.console.hidden = false;
    setToolbarEnabled(false);
    ui.fitButton.setAttribute('aria-pressed', 'true');
    setStatus(`Connecting to ${state.serverName}…`);

    let session;
    try {
        const userInteraction = await createRemoteDesktop();
        userInteraction.setEnableClipboard(false);
        userInteraction.setEnableAutoClipboard(false);
        state.userInteraction = userInteraction;

        const config = userInteraction.configBuilder()
            .withUsername(credentials.username)
            .withPassword(credentials.password)
            .withServerDomain(credentials.domain)
            .withDestination(DESTINATION_PLACEHOLDER)
            .withProxyAddress(gatewayUrl(window.location.href))
            .withAuthToken(state.token)
            .withDesktopSize(availableDesktopSize())
            .withExtension(displayControl(true))
            .withExtension(enableCredssp(true))
            .build();

        session = await userInteraction.connect(config);
    } catch (error) {
        endSession(describeError(error));
        return;
    }

    state.connected = true;
    state.disconnecting = false;
    state.userInteraction.setVisibility(true);
    setToolbarEnabled(true);
    setStatus(`Connected to ${state.serverName}. Click the desktop to type into it. Ctrl+Alt+Shift moves the keyboard focus back to the toolbar.`);
    ui.remoteDesktop.focus();

    try {
        const termination = await session.run();
        const reason = termination.reason();
        if (state.disconnecting) {
            endSession(null, `Disconnected from ${state.serverName}.`);
        } else {
            endSession({ message: `The server ended the session (${reason}). Connect again to start a new session.`, text: reason });
        }
    } catch (error) {
        if (state.disconnecting) {
            endSession(null, `Disconnected from ${state.serverName}.`);
        } else {
            endSession(describeError(error, { connected: true }));
        }
    }
}

function endSession(failure, statusText) {
    const wasConnected = state.connected;
    state.connected = false;
    state.disconnecting = false;
    state.userInteraction = null;
    clipboard.reset();
    exitFullscreen();

    // The ended element stays in the hidden console section until the next
    // connect replaces it, because the web component still runs a timer
    // against its own nodes 150 ms after setVisibility(true).
    ui.remoteDesktop = null;

    if (failure) {
        showError(failure.message, failure.text);
        setStatus(wasConnected ? `Disconnected from ${state.serverName}.` : `Could not connect to ${state.serverName}.`);
    } else {
        setStatus(statusText);
    }
    showLoginForm();
}

function setToolbarEnabled(enabled) {
    for (const button of ui.toolbar.querySelectorAll('button')) {
        button.disabled = !enabled;
    }
}

// The web component sends every key, Tab included, to the server while the
// desktop has the focus, so Ctrl+Alt+Shift gives keyboard users a way out.
// The component listens on window in the bubbling phase, so this capturing
// listener runs first.
function onKeyDownCapture(event) {
    const desktopFocused = ui.remoteDesktop !== null && document.activeElement === ui.remoteDesktop;
    if (!desktopFocused || !(event.ctrlKey && event.altKey && event.shiftKey)
            || !['Control', 'Alt', 'Shift'].includes(event.key)) {
        return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();

    // The server has already received the first two modifiers. The component
    // releases every pressed key when the window loses the focus.
    window.dispatchEvent(new Event('blur'));
    ui.toolbar.querySelector('button:not([hidden])').focus();
}

function onSubmit(event) {
    // The credentials go to the web client only, never to the server hosting this page.
    event.preventDefault();
    const credentials = {
        username: ui.username.value,
        password: ui.password.value,
        domain: ui.domain.value,
    };
    ui.password.value = '';
    ui.connectButton.disabled = true;
    connect(credentials);
}

function onDisconnect() {
    if (state.userInteraction === null) {
        return;
    }
    state.disconnecting = true;
    setStatus(`Disconnecting from ${state.serverName}…`);
    state.userInteraction.shutdown();
}

function onCtrlAltDel() {
    state.userInteraction?.ctrlAltDel();
    ui.remoteDesktop?.focus();
}

function onFit() {
    if (state.userInteraction === null) {
        return;
    }
    const fit = ui.fitButton.getAttribute('aria-pressed') !== 'true';
    ui.fitButton.setAttribute('aria-pressed', String(fit));
    if (fit) {
        // Servers with the Display Control channel change their resolution to
        // the window size. Others ignore the request, and the picture is scaled.
        const size = availableDesktopSize();
        state.userInteraction.resize(size.width, size.height);
    }
    state.userInteraction.setScale(fit ? ScreenScale.Fit : ScreenScale.Real);
}

function exitFullscreen() {
    if (document.fullscreenElement) {
        document.exitFullscreen().catch(() => {});
    }
}

function onFullscreen() {
    if (document.fullscreenElement) {
        exitFullscreen();
        return;
    }
    ui.console.requestFullscreen().catch((error) => {
        setStatus(`Full screen is not available in this browser window (${error.message}).`);
    });
}

function onFullscreenChange() {
    const full = document.fullscreenElement !== null;
    ui.fullscreenButton.setAttribute('aria-pressed', String(full));
    if (state.userInteraction !== null) {
        const fit = ui.fitButton.getAttribute('aria-pressed') === 'true';
        state.userInteraction.setScale(fit ? ScreenScale.Fit : ScreenScale.Real);
    }
}

function onClipboardToggle() {
    const open = ui.clipboard.hidden;
    ui.clipboard.hidden = !open;
    ui.clipboardToggle.setAttribute('aria-expanded', String(open));
    if (open) {
        ui.clipboardLocal.focus();
    }
    // The screen area changed size.
    window.dispatchEvent(new Event('resize'));
}

async function onClipboardSend() {
    try {
        await clipboard.paste(ui.clipboardLocal.value);
        setStatus('The text is on the remote clipboard. Paste it on the remote desktop.');
    } catch (error) {
        if (error instanceof ClipboardUnavailable) {
            setStatus(`${error.message} Type the text on the remote desktop instead.`);
        } else {
            setStatus(`The text could not be sent to the remote clipboard: ${describeError(error).text}`);
        }
    }
}

async function onClipboardPaste() {
    try {
        ui.clipboardLocal.value = await navigator.clipboard.readText();
    } catch (error) {
        setStatus('The browser did not allow reading this computer\'s clipboard. Paste into the text box with Ctrl+V instead.');
        return;
    }
    await onClipboardSend();
}

async function onClipboardCopy() {
    const text = ui.clipboardRemote.value;
    if (navigator.clipboard?.writeText) {
        try {
            await navigator.clipboard.writeText(text);
            setStatus('The remote text is on this computer\'s clipboard.');
            return;
        } catch {
            // Fall through to selecting the text for Ctrl+C.
        }
    }
    ui.clipboardRemote.focus();
    ui.clipboardRemote.select();
    setStatus('The browser did not allow writing to this computer\'s clipboard. The text is selected: press Ctrl+C to copy it.');
}

function bindElements() {
    Object.assign(ui, {
        status: byId('status'),
        serverName: byId('server-name'),
        error: byId('error'),
        errorMessage: byId('error-message'),
        errorDetails: byId('error-details'),
        errorText: byId('error-text'),
        login: byId('login'),
        username: byId('username'),
        password: byId('password'),
        domain: byId('domain'),
        connectButton: byId('connect'),
        console: byId('console'),
        toolbar: document.querySelector('#console .toolbar'),
        fitButton: byId('fit'),
        fullscreenButton: byId('fullscreen'),
        clipboardToggle: byId('clipboard-toggle'),
        clipboard: byId('clipboard'),
        clipboardRemote: byId('clipboard-remote'),
        clipboardLocal: byId('clipboard-local'),
        screen: byId('screen'),
        remoteDesktop: null,
    });

    ui.login.addEventListener('submit', onSubmit);
    byId('disconnect').addEventListener('click', onDisconnect);
    byId('ctrl-alt-del').addEventListener('click', onCtrlAltDel);
    ui.fitButton.addEventListener('click', onFit);
    ui.fullscreenButton.addEventListener('click', onFullscreen);
    ui.clipboardToggle.addEventListener('click', onClipboardToggle);
    byId('clipboard-send').addEventListener('click', onClipboardSend);
    byId('clipboard-copy').addEventListener('click', onClipboardCopy);
    document.addEventListener('fullscreenchange', onFullscreenChange);
    window.addEventListener('keydown', onKeyDownCapture, { capture: true });

    const pasteButton = byId('clipboard-paste');
    if (navigator.clipboard?.readText) {
        pasteButton.hidden = false;
        pasteButton.addEventListener('click', onClipboardPaste);
    }
    if (!document.fullscreenEnabled) {
        ui.fullscreenButton.hidden = true;
    }
}

async function main() {
    bindElements();

    const params = new URLSearchParams(window.location.search);
    state.token = params.get('token');
    // Dashboards append the server as &title=<name>(<id>). Setting textContent keeps it plain text.
    state.serverName = params.get('title') || 'the server';
    if (params.get('title')) {
        ui.serverName.textContent = params.get('title');
        document.title = `${params.get('title')} – RDP console`;
    }

    if (!state.token) {
        setStatus('No console token.');
        showError(HTTP_STATUS_SENTENCES.get(401));
        return;
    }

    try {
        await init(BACKEND_LOG_LEVEL);
    } catch (error) {
        setStatus('The remote desktop client failed to load.');
        showError('The remote desktop client could not start in this browser. Use a current version of Firefox, Chrome, Edge or Safari with WebAssembly enabled, and reload the page.', describeError(error).text);
        return;
    }

    setStatus(`Enter your user name and password for ${state.serverName}, then select Connect.`);
    showLoginForm();
}

main();
