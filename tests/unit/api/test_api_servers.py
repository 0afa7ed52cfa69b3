"""GET /servers, /servers/detail and /servers/{id}: Nova's shapes, filters,
pagination and project isolation."""

import hashlib

import pytest

from api_helpers import ADMIN
from api_helpers import OTHER_PROJECT
from api_helpers import PROJECT
from api_helpers import at_version
from api_helpers import auth

MISSING_ID = "0b0b0b0b-0000-4000-8000-000000000000"


def links(server, project=""):
    middle = f"/{project}" if project else ""
    return [
        {"rel": "self", "href": f"http://testserver/v2.1{middle}/servers/{server.uuid}"},
        {"rel": "bookmark", "href": f"http://testserver{middle}/servers/{server.uuid}"},
    ]


def expected_server(server, project_in_url=""):
    created = server.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": server.uuid,
        "name": server.name,
        "status": "ACTIVE",
        "tenant_id": PROJECT,
        "user_id": "alice",
        "metadata": {"role": "web"},
        "hostId": hashlib.sha224((PROJECT + "hyperv1").encode()).hexdigest(),
        "image": "",
        "flavor": {},
        "created": created,
        "updated": created,
        "addresses": {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(server, project_in_url),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": server.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active",
        "OS-EXT-STS:power_state": 1,
        "os-extended-volumes:volumes_attached": [],
    }


@pytest.fixture
def web(api):
    return api.create_server(name="web1", metadata={"role": "web"})


def names(response):
    return sorted(entry["name"] for entry in response.json()["servers"])


def test_show_whole_body(api, web):
    response = api.client.get(f"/v2.1/servers/{web.uuid}", headers=auth())

    assert response.status_code == 200
    assert response.json() == {"server": expected_server(web)}


def test_show_with_project_in_url(api, web):
    response = api.client.get(f"/v2.1/{PROJECT}/servers/{web.uuid}", headers=auth())

    assert response.json() == {"server": expected_server(web, PROJECT)}


def test_show_at_295(api, web):
    response = api.client.get(f"/v2.1/servers/{web.uuid}", headers=at_version("2.95"))
    expected = expected_server(web)
    expected.update({
        "locked": False,
        "locked_reason": None,
        "description": None,
        "tags": [],
        "trusted_image_certificates": None,
        "OS-EXT-SRV-ATTR:hostname": "web1",
        "server_groups": [],
    })

    assert response.json() == {"server": expected}


@pytest.mark.parametrize(
    "version, present, absent",
    [
        ("2.8", [], ["locked"]),
        ("2.9", ["locked"], ["description"]),
        ("2.19", ["description"], ["tags"]),
        ("2.26", ["tags"], ["trusted_image_certificates"]),
        ("2.63", ["trusted_image_certificates"], ["server_groups"]),
        ("2.71", ["server_groups"], ["locked_reason"]),
        ("2.73", ["locked_reason"], ["OS-EXT-SRV-ATTR:hostname"]),
        ("2.90", ["OS-EXT-SRV-ATTR:hostname"], ["host_status"]),
    ],
)
def test_show_fields_by_microversion(api, web, version, present, absent):
    server = api.client.get(f"/v2.1/servers/{web.uuid}", headers=at_version(version)).json()["server"]

    for key in present:
        assert key in server
    for key in absent:
        assert key not in server


def test_show_admin_fields(api, web):
    server = api.client.get(f"/v2.1/servers/{web.uuid}", headers=ADMIN).json()["server"]

    assert server["OS-EXT-SRV-ATTR:host"] == "hyperv1"
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "hyperv1"
    assert server["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")
    assert "OS-EXT-SRV-ATTR:reservation_id" not in server
    assert "host_status" not in server


def test_show_admin_fields_at_216(api, web):
    server = api.client.get(
        f"/v2.1/servers/{web.uuid}", headers=at_version("2.16", ADMIN)
    ).json()["server"]

    assert server["OS-EXT-SRV-ATTR:hostname"] == "web1"
    assert server["OS-EXT-SRV-ATTR:launch_index"] == 0
    assert server["OS-EXT-SRV-ATTR:user_data"] is None
    assert server["host_status"] == "UP"


@pytest.mark.parametrize("server_id", [MISSING_ID, "web1", "detail2"])
def test_show_unknown(api, web, server_id):
    response = api.client.get(f"/v2.1/servers/{server_id}", headers=auth())

    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {server_id} could not be found."}
    }


def test_show_other_project_is_404(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = api.client.get(f"/v2.1/servers/{other.uuid}", headers=auth())

    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {other.uuid} could not be found."}
    }


def test_show_admin_sees_other_project(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = api.client.get(f"/v2.1/servers/{other.uuid}", headers=ADMIN)

    assert response.status_code == 200
    assert response.json()["server"]["tenant_id"] == OTHER_PROJECT


def test_show_without_reader_role_is_403(api, web):
    response = api.client.get(f"/v2.1/servers/{web.uuid}", headers={**auth(), "X-Roles": "other"})

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:servers:show to be performed.",
        }
    }


def test_show_building_server(api):
    building = api.create_server(host=None, status="BUILD")
    server = api.client.get(f"/v2.1/servers/{building.uuid}", headers=auth()).json()["server"]

    assert server["status"] == "BUILD"
    assert server["hostId"] == ""
    assert server["OS-EXT-AZ:availability_zone"] == ""
    assert server["OS-EXT-STS:vm_state"] == "building"
    assert server["OS-SRV-USG:launched_at"] is None


def test_index_whole_body(api, web):
    response = api.client.get("/v2.1/servers", headers=auth())

    assert response.json() == {"servers": [{"id": web.uuid, "name": "web1", "links": links(web)}]}


def test_detail_whole_body(api, web):
    response = api.client.get(f"/v2.1/{PROJECT}/servers/detail", headers=auth())

    assert response.json() == {"servers": [expected_server(web, PROJECT)]}


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1/servers/detail"])
def test_list_only_own_project(api, path):
    api.create_server(name="mine")
    api.create_server(name="theirs", project_id=OTHER_PROJECT)

    assert names(api.client.get(path, headers=auth())) == ["mine"]


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1/servers/detail"])
def test_admin_lists_own_project_without_all_tenants(api, path):
    api.create_server(name="mine")

    assert names(api.client.get(path, headers=ADMIN)) == []


@pytest.mark.parametrize("value", ["", "1", "true", "True"])
def test_admin_all_tenants(api, value):
    api.create_server(name="mine")
    api.create_server(name="theirs", project_id=OTHER_PROJECT)
    response = api.client.get(f"/v2.1/servers?all_tenants={value}", headers=ADMIN)

    assert names(response) == ["mine", "theirs"]


def test_admin_all_tenants_false(api):
    api.create_server(name="mine")

    assert names(api.client.get("/v2.1/servers?all_tenants=0", headers=ADMIN)) == []


def test_admin_all_tenants_with_project_filter(api):
    api.create_server(name="mine")
    api.create_server(name="theirs", project_id=OTHER_PROJECT)
    response = api.client.get(
        f"/v2.1/servers/detail?all_tenants=1&tenant_id={OTHER_PROJECT}", headers=ADMIN
    )

    assert names(response) == ["theirs"]


def test_all_tenants_bad_value(api):
    response = api.client.get("/v2.1/servers?all_tenants=maybe", headers=ADMIN)

    assert response.status_code == 400
    assert response.json()["badRequest"]["message"].startswith(
        "Invalid input received: Unrecognized value 'maybe'"
    )


@pytest.mark.parametrize("path, rule", [("/v2.1/servers", "index"), ("/v2.1/servers/detail", "detail")])
def test_all_tenants_forbidden_for_members(api, path, rule):
    response = api.client.get(f"{path}?all_tenants=1", headers=auth())

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {
            "code": 403,
            "message": f"Policy doesn't allow os_compute_api:servers:{rule}:get_all_tenants "
            "to be performed.",
        }
    }


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("web1", ["web1", "web10", "xweb1"]),
        ("^web1$", ["web1"]),
        ("^web", ["web1", "web10", "web2"]),
        ("1$", ["web1", "xweb1"]),
        ("nothing", []),
    ],
)
def test_name_filter_is_unanchored_regex(api, pattern, expected):
    for name in ("web1", "web10", "web2", "xweb1"):
        api.create_server(name=name)
    response = api.client.get("/v2.1/servers", params={"name": pattern}, headers=auth())

    assert names(response) == expected


def test_name_filter_stays_in_project(api):
    api.create_server(name="web1", project_id=OTHER_PROJECT)

    assert names(api.client.get("/v2.1/servers/detail?name=web1", headers=auth())) == []


def test_invalid_name_regex(api):
    response = api.client.get("/v2.1/servers", params={"name": "("}, headers=auth())

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {
            "code": 400,
            "message": "Invalid input for query parameters name. Value: (. '(' is not a 'regex'",
        }
    }


def test_pagination(api):
    created = [api.create_server(name=f"web{index}") for index in range(3)]
    newest_first = list(reversed(created))

    first = api.client.get("/v2.1/servers?limit=2", headers=auth()).json()
    assert [entry["id"] for entry in first["servers"]] == [s.uuid for s in newest_first[:2]]
    assert first["servers_links"] == [{
        "rel": "next",
        "href": f"http://testserver/v2.1/servers?limit=2&marker={newest_first[1].uuid}",
    }]

    second = api.client.get(first["servers_links"][0]["href"], headers=auth()).json()
    assert [entry["id"] for entry in second["servers"]] == [newest_first[2].uuid]
    assert "servers_links" not in second


def test_next_link_keeps_filters_and_project(api):
    for index in range(2):
        api.create_server(name=f"web{index}")
    response = api.client.get(f"/v2.1/{PROJECT}/servers/detail?name=web&limit=1", headers=auth())
    href = response.json()["servers_links"][0]["href"]

    # Nova sorts the query parameters and then appends or replaces the marker.
    assert href.startswith(f"http://testserver/v2.1/{PROJECT}/servers/detail?limit=1&name=web&marker=")


def test_no_next_link_on_partial_page(api, web):
    response = api.client.get("/v2.1/servers?limit=5", headers=auth())

    assert "servers_links" not in response.json()


def test_next_link_at_max_limit(make_api):
    api = make_api({"api": {"max_limit": 2}})
    for index in range(3):
        api.create_server(name=f"web{index}")
    response = api.client.get("/v2.1/servers?limit=10", headers=auth()).json()

    assert len(response["servers"]) == 2
    assert response["servers_links"][0]["rel"] == "next"


def test_limit_zero(api, web):
    response = api.client.get("/v2.1/servers?limit=0", headers=auth())

    assert response.json() == {"servers": []}


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "Invalid input for query parameters limit. Value: abc. "
                "'abc' does not match '^[0-9]*$'"),
        ("-1", "Invalid input for query parameters limit. Value: -1. "
               "'-1' does not match '^[0-9]*$'"),
        ("", "Invalid input for query parameters limit. Value: . '' is too short"),
    ],
)
def test_invalid_limit(api, value, message):
    response = api.client.get(f"/v2.1/servers?limit={value}", headers=auth())

    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": message}}


def test_unknown_marker(api, web):
    response = api.client.get(f"/v2.1/servers?marker={MISSING_ID}", headers=auth())

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {"code": 400, "message": f"marker [{MISSING_ID}] not found"}
    }


def test_status_filter(api):
    api.create_server(name="running")
    api.create_server(name="stopped", status="SHUTOFF")

    assert names(api.client.get("/v2.1/servers?status=shutoff", headers=auth())) == ["stopped"]
    assert names(api.client.get("/v2.1/servers?status=ACTIVE", headers=auth())) == ["running"]


def test_status_filter_several_values(api):
    api.create_server(name="running")
    api.create_server(name="stopped", status="SHUTOFF")
    api.create_server(name="broken", status="ERROR")
    response = api.client.get("/v2.1/servers?status=SHUTOFF&status=ERROR", headers=auth())

    assert names(response) == ["broken", "stopped"]


def test_invalid_status_before_238_is_empty(api, web):
    response = api.client.get("/v2.1/servers?status=bogus", headers=at_version("2.37"))

    assert response.status_code == 200
    assert response.json() == {"servers": []}


def test_invalid_status_from_238_is_400(api, web):
    response = api.client.get("/v2.1/servers?status=bogus", headers=at_version("2.38"))

    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": "Invalid status value"}}


def test_deleted_status_needs_admin(api):
    response = api.client.get("/v2.1/servers?status=DELETED", headers=auth())

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {"code": 403, "message": "Only administrators may list deleted instances"}
    }


@pytest.mark.parametrize("version", ["2.1", "2.74"])
def test_unknown_filter_ignored_up_to_274(api, web, version):
    response = api.client.get("/v2.1/servers?foo=bar&limit=1", headers=at_version(version))

    assert response.status_code == 200
    assert names(response) == ["web1"]
    assert "foo" not in response.json()["servers_links"][0]["href"]


def test_unknown_filter_rejected_from_275(api, web):
    response = api.client.get("/v2.1/servers?foo=bar", headers=at_version("2.75"))

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {
            "code": 400,
            # The schema has patternProperties, so jsonschema words it this way.
            "message": "'foo' does not match any of the regexes: '^_'",
        }
    }


def test_admin_only_filters_ignored_for_members(api):
    api.create_server(name="a", host="hyperv1")
    api.create_server(name="b", host="hyperv2")

    assert names(api.client.get("/v2.1/servers?host=hyperv2", headers=auth())) == ["a", "b"]


def test_admin_host_filter(api):
    api.create_server(name="a", host="hyperv1", project_id="admin")
    api.create_server(name="b", host="hyperv2", project_id="admin")

    assert names(api.client.get("/v2.1/servers?host=hyperv2", headers=ADMIN)) == ["b"]


def test_joined_table_filter_is_400_for_admins(api):
    response = api.client.get("/v2.1/servers?metadata=x", headers=ADMIN)

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {"code": 400, "message": "Invalid filter field: metadata."}
    }


def test_sort_by_host_needs_admin(api, web):
    response = api.client.get("/v2.1/servers?sort_key=host", headers=auth())

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {"code": 403, "message": "Only administrators can sort servers by host"}
    }


def test_user_id_filter_from_283(api):
    api.create_server(name="a", user_id="alice")
    api.create_server(name="b", user_id="bob")

    assert names(api.client.get("/v2.1/servers?user_id=bob", headers=at_version("2.82"))) == ["a", "b"]
    assert names(api.client.get("/v2.1/servers?user_id=bob", headers=at_version("2.83"))) == ["b"]


def test_filters_on_missing_attributes_match_nothing(api, web):
    for query in ("flavor=1", "image=abc", "ip=10.0.0.5"):
        assert names(api.client.get(f"/v2.1/servers?{query}", headers=auth())) == []


def test_reader_can_list(api, web):
    response = api.client.get("/v2.1/servers", headers={**auth(), "X-Roles": "reader"})

    assert response.status_code == 200


def test_list_without_reader_role_is_403(api, web):
    response = api.client.get("/v2.1/servers/detail", headers={**auth(), "X-Roles": "other"})

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:servers:detail to be performed.",
        }
    }


def test_detail_admin_fields(api):
    api.create_server(name="theirs", project_id=OTHER_PROJECT)
    server = api.client.get(
        "/v2.1/servers/detail?all_tenants=1", headers=at_version("2.16", ADMIN)
    ).json()["servers"][0]

    assert server["OS-EXT-SRV-ATTR:host"] == "hyperv1"
    assert server["host_status"] == "UP"
    assert "server_groups" not in server
