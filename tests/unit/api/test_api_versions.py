"""Version documents, microversion negotiation and the headers of every response."""

import re
import uuid

import pytest

from api_helpers import ADMIN
from api_helpers import at_version
from api_helpers import auth

V21_MEDIA_TYPES = [
    {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
]
VARY = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_root_lists_only_v21(api):
    response = api.client.get("/")

    assert response.status_code == 200
    assert response.json() == {
        "versions": [{
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.95",
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": "http://testserver/v2.1/"}],
        }]
    }


def test_root_has_no_version_or_request_id_headers(api):
    response = api.client.get("/", headers=at_version("2.50"))

    assert "OpenStack-API-Version" not in response.headers
    assert "x-openstack-request-id" not in response.headers


@pytest.mark.parametrize("path", ["/v2.1", "/v2.1/"])
def test_v21_document_without_token(api, path):
    response = api.client.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "version": {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.95",
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [
                {"rel": "self", "href": "http://testserver/v2.1/"},
                {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
            ],
            "media-types": V21_MEDIA_TYPES,
        }
    }


def test_other_root_path_gets_choices(api):
    response = api.client.get("/servers/detail")

    assert response.status_code == 300
    assert response.json() == {
        "choices": [{
            "id": "v2.1",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": "http://testserver/v2.1/servers/detail"}],
            "media-types": V21_MEDIA_TYPES,
        }]
    }


@pytest.mark.parametrize("path", ["/v2", "/v2/", "/v2/servers", "/v2/a1b2c3/servers/detail"])
def test_legacy_v2_is_404_naming_v21(api, path):
    response = api.client.get(path, headers=auth())

    assert response.status_code == 404
    assert list(response.json()) == ["itemNotFound"]
    assert "/v2.1" in response.json()["itemNotFound"]["message"]


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.6"}, "2.6"),
        ({"OpenStack-API-Version": "compute latest"}, "2.95"),
        ({"X-OpenStack-Nova-API-Version": "2.31"}, "2.31"),
        ({"X-OpenStack-Nova-API-Version": "latest"}, "2.95"),
        ({"OpenStack-API-Version": "compute 2.10, volume 3.5"}, "2.10"),
        ({"OpenStack-API-Version": "compute 2.10, compute 2.12"}, "2.12"),
        ({"OpenStack-API-Version": "volume 3.5"}, "2.1"),
        ({"OpenStack-API-Version": "volume 3.5", "X-OpenStack-Nova-API-Version": "2.7"}, "2.7"),
        ({"OpenStack-API-Version": "compute 2.8", "X-OpenStack-Nova-API-Version": "2.7"}, "2.8"),
        ({"X-OpenStack-Nova-API-Version": "2.3, 2.4"}, "2.4"),
        ({"OpenStack-API-Version": "COMPUTE 2.9"}, "2.9"),
    ],
)
def test_microversion_headers(api, headers, expected):
    response = api.client.get("/v2.1/servers", headers={**auth(), **headers})

    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == f"compute {expected}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == expected
    assert response.headers["Vary"] == VARY


@pytest.mark.parametrize("value", ["2", "2.01", "02.1", "2.a", "latest2", "LATEST", "2.1.1", ""])
def test_malformed_microversion_is_400(api, value):
    response = api.client.get("/v2.1/servers", headers={**auth(), "X-OpenStack-Nova-API-Version": value})

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {
            "code": 400,
            "message": f"API Version String {value} is of invalid format. "
            "Must be of format MajorNum.MinorNum.",
        }
    }
    assert "OpenStack-API-Version" not in response.headers


@pytest.mark.parametrize("value", ["2.0", "2.96", "2.100", "3.0", "1.1"])
@pytest.mark.parametrize("legacy", [False, True])
def test_unsupported_microversion_is_406(api, value, legacy):
    response = api.client.get("/v2.1/servers", headers=at_version(value, legacy=legacy))

    assert response.status_code == 406
    assert response.json() == {
        "computeFault": {
            "code": 406,
            "message": f"Version {value} is not supported by the API. "
            "Minimum is 2.1 and maximum is 2.95.",
        }
    }
    assert response.headers["OpenStack-API-Version"] == f"compute {value}"


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/v2.1/servers", 200),
        ("GET", "/v2.1/servers/detail", 200),
        ("GET", "/v2.1/servers/00000000-0000-0000-0000-000000000000", 404),
        ("GET", "/v2.1/no-such-resource", 404),
        ("DELETE", "/v2.1/servers", 405),
        ("POST", "/v2.1/servers/00000000-0000-0000-0000-000000000000/action", 400),
        ("GET", "/v2.1/os-console-auth-tokens/abc", 403),
    ],
)
def test_version_headers_on_every_api_response(api, method, path, status):
    response = api.client.request(method, path, headers=at_version("2.42"))

    assert response.status_code == status
    assert response.headers["OpenStack-API-Version"] == "compute 2.42"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.42"
    assert response.headers["Vary"] == VARY


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1", "/v2.1/", "/v2/servers"])
def test_request_id_headers(api, path):
    response = api.client.get(path, headers=auth())
    request_id = response.headers["x-openstack-request-id"]

    assert REQUEST_ID.match(request_id)
    assert response.headers["x-compute-request-id"] == request_id


def test_request_id_headers_on_401(api):
    response = api.client.get("/v2.1/servers")

    assert response.status_code == 401
    assert REQUEST_ID.match(response.headers["x-openstack-request-id"])


def test_request_ids_are_unique(api):
    first = api.client.get("/v2.1/servers", headers=auth())
    second = api.client.get("/v2.1/servers", headers=auth())

    assert first.headers["x-openstack-request-id"] != second.headers["x-openstack-request-id"]


def test_inbound_request_id_is_not_echoed(api):
    inbound = f"req-{uuid.uuid4()}"
    response = api.client.get("/v2.1/servers", headers={**ADMIN, "X-OpenStack-Request-ID": inbound})

    assert response.headers["x-openstack-request-id"] != inbound


def test_version_document_echoes_microversion(api):
    response = api.client.get("/v2.1/", headers=at_version("2.60"))

    assert response.headers["OpenStack-API-Version"] == "compute 2.60"
