"""Where v2.1 requests run: in the event loop on SQLite with noauth2, and in a
worker thread for server lists, with keystone, or when another connection
holds the SQLite write lock."""

import logging
import sqlite3
import threading
import time

from api_helpers import auth
from rdpconsole.api import auth as auth_module
from rdpconsole.domain import servers as servers_module

RDP_REMOTE = {"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}
V26 = {**auth(), "X-OpenStack-Nova-API-Version": "2.6"}


def create_console(api, server):
    return api.client.post(
        f"/v2.1/servers/{server.uuid}/remote-consoles", json=RDP_REMOTE, headers=V26
    )


def record_threads(monkeypatch, api):
    """Record the thread that issues each console token."""
    threads = []
    service = api.app.state.console_service
    original = service.get_rdp_console

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "get_rdp_console", recording)
    return threads


class WriteLock:
    """An SQLite write lock on the API's database, held by a connection of its own."""

    def __init__(self, api):
        self._connection = sqlite3.connect(api.database.engine.url.database,
                                           isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN IMMEDIATE")

    def release(self):
        self._connection.execute("ROLLBACK")
        self._connection.close()


def test_request_runs_in_event_loop(api, server, monkeypatch):
    threads = record_threads(monkeypatch, api)
    loop_thread = api.client.portal.call(threading.get_ident)

    response = create_console(api, server)

    assert response.status_code == 200
    assert threads == [loop_thread]


def test_locked_database_retried_in_thread(api, server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="rdpconsole.api.app")
    threads = record_threads(monkeypatch, api)
    loop_thread = api.client.portal.call(threading.get_ident)
    lock = WriteLock(api)
    threading.Timer(0.3, lock.release).start()

    response = create_console(api, server)

    assert response.status_code == 200
    assert api.token_count() == 1
    assert threads[0] == loop_thread
    assert threads[-1] != loop_thread
    assert "running it again in a worker thread" in caplog.text


def test_loop_serves_while_database_locked(api, server):
    lock = WriteLock(api)
    results = {}

    def create_in_background():
        results["create"] = create_console(api, server)

    creator = threading.Thread(target=create_in_background)
    creator.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        version = api.client.get("/v2.1/")
        elapsed = time.monotonic() - started
        waiting = creator.is_alive()
    finally:
        lock.release()
        creator.join(10)

    assert version.status_code == 200
    assert elapsed < 1.0
    assert waiting is True
    assert results["create"].status_code == 200


def test_keystone_request_runs_in_thread(make_api, monkeypatch):
    api = make_api({"api": {"auth_strategy": "keystone"},
                    "keystone_authtoken": {"www_authenticate_uri": "http://127.0.0.1:1/identity"}})
    threads = []

    def authenticate(self, http_request, request_id):
        threads.append(threading.get_ident())
        return auth_module.unauthorized_response("http://127.0.0.1:1/identity")

    monkeypatch.setattr(auth_module.Keystone, "authenticate", authenticate)
    loop_thread = api.client.portal.call(threading.get_ident)

    response = api.client.get("/v2.1/servers", headers={"X-Auth-Token": "any"})

    assert response.status_code == 401
    assert len(threads) == 1
    assert threads[0] != loop_thread


def test_server_list_runs_in_thread(api, server, monkeypatch):
    threads = []
    original = servers_module.ServerRepository.list

    def recording(self, *args, **kwargs):
        threads.append(threading.get_ident())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(servers_module.ServerRepository, "list", recording)
    loop_thread = api.client.portal.call(threading.get_ident)

    response = api.client.get("/v2.1/servers/detail", headers=auth())

    assert response.status_code == 200
    assert len(threads) == 1
    assert threads[0] != loop_thread
