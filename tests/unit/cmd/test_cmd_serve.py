"""Start-up failures of the service commands, run in-process."""

import socket

import pytest

from rdpconsole import service
from rdpconsole.cmd import main as main_module
from rdpconsole.db import api as db_api


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "rdpconsole.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}/state\n[api]\nport = 0\n[gateway]\nport = 0\n",
                    encoding="utf-8")
    return path


def run_main(*args):
    with pytest.raises(SystemExit) as caught:
        main_module.main([str(arg) for arg in args])
    return caught.value.code


def test_database_not_ready_is_one_line(config_file, monkeypatch, capsys):
    def not_ready(self):
        raise db_api.DatabaseNotReady(
            "The database schema is at revision none but this rdpconsole needs 0001. "
            "Run 'rdpconsole db upgrade --config-file ...' first."
        )

    monkeypatch.setattr(db_api.Database, "ensure_ready", not_ready)

    status = run_main("serve", "--config-file", config_file)

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert error_lines[-1].startswith("rdpconsole serve: error: The database schema is at revision none")
    assert "rdpconsole db upgrade" in error_lines[-1]


def test_api_missing_module_fails(config_file, monkeypatch, capsys):
    monkeypatch.setattr(service, "API_APP_MODULE", "rdpconsole.no_such_module")
    status = run_main("api", "--config-file", config_file)
    assert status == 1
    assert "cannot import rdpconsole.no_such_module" in capsys.readouterr().err


def test_gateway_missing_module_fails(config_file, monkeypatch, capsys):
    monkeypatch.setattr(service, "GATEWAY_APP_MODULE", "rdpconsole.no_such_module")
    status = run_main("gateway", "--config-file", config_file)
    assert status == 1
    assert "cannot import rdpconsole.no_such_module" in capsys.readouterr().err


def test_bind_socket_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(service.ServiceError) as caught:
            service.bind_socket("127.0.0.1", port, "Compute API", "api")
    assert str(caught.value).startswith(f"cannot listen on 127.0.0.1:{port} for the Compute API: ")
    assert "Set a free port in [api] port" in str(caught.value)


def test_bind_socket_ipv6_loopback():
    sock = service.bind_socket("::1", 0, "Compute API", "api")
    try:
        assert service.socket_url(sock).startswith("http://[::1]:")
    finally:
        sock.close()


def test_config_files_round_trip(tmp_path):
    paths = [str(tmp_path / "a.conf"), str(tmp_path / "b.conf")]
    assert service.decode_config_files(service.encode_config_files(paths)) == paths
