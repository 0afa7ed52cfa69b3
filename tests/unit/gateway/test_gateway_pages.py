"""HTTP routes of the gateway: the console page, static files, the health check and refusals."""

import json

import pytest
from starlette.testclient import TestClient

from rdpconsole.gateway.pages import CONTENT_SECURITY_POLICY
from rdpconsole.gateway.pages import AssetManifest
from rdpconsole.gateway.pages import HttpRoutes

TOKEN = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<!DOCTYPE html><title>console</title>")
    (tmp_path / "web" / "console.js").write_text("export {};")
    (tmp_path / "web" / "client.wasm").write_bytes(b"\x00asm")
    manifest = tmp_path / "assets.json"
    manifest.write_text(json.dumps({
        "index.html": "web/index.html",
        "console.js": "web/console.js",
        "client.wasm": "web/client.wasm",
        "missing.js": "node_modules/missing/missing.js",
    }))
    assets = AssetManifest.load(str(tmp_path), manifest_path=str(manifest))
    return TestClient(HttpRoutes(assets, "https://dashboard.example.org"))


def test_page_with_token(site):
    response = site.get(f"/?token={TOKEN}")

    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html>")


def test_page_security_headers(site):
    headers = site.get(f"/?token={TOKEN}&title=server(1)").headers

    assert headers["content-security-policy"] == (
        f"{CONTENT_SECURITY_POLICY}; frame-ancestors https://dashboard.example.org"
    )
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_page_under_prefix(site):
    assert site.get(f"/console/rdp/?token={TOKEN}").status_code == 200


def test_page_head(site):
    response = site.head(f"/?token={TOKEN}")

    assert response.status_code == 200
    assert response.content == b""


def test_page_without_token(site):
    response = site.get("/")

    assert response.status_code == 400
    assert "openstack console url show --rdp" in response.text


def test_page_wrong_method(site):
    response = site.post(f"/?token={TOKEN}")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_script_content_type(site):
    response = site.get("/static/console.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_wasm_content_type(site):
    assert site.get("/prefix/static/client.wasm").headers["content-type"] == "application/wasm"


def test_static_revalidates(site):
    first = site.get("/static/console.js")
    second = site.get("/static/console.js", headers={"If-None-Match": first.headers["etag"]})

    assert second.status_code == 304


def test_static_unknown_name(site):
    assert site.get("/static/secret.txt").status_code == 404


def test_static_no_path_traversal(site):
    assert site.get("/static/../assets.json").status_code == 404


def test_missing_npm_file(site):
    response = site.get("/static/missing.js")

    assert response.status_code == 503


def test_health_check(site):
    assert site.get("/healthz").status_code == 200


def test_websocket_path_over_http(site):
    assert site.get("/ws").status_code == 426


def test_unknown_path(site):
    assert site.get("/admin").status_code == 404


def test_unknown_path_no_redirect(site):
    response = site.get("//evil.example.net/", follow_redirects=False)

    assert response.status_code == 400
    assert "location" not in response.headers
