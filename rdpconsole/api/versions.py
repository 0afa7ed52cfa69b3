"""Version documents, served without authentication.

``GET /`` lists the API versions and ``GET /v2.1[/]`` describes v2.1; any
other path outside /v2 and /v2.1 gets Nova's 300 Multiple Choices document.
Only v2.1 is listed: the legacy /v2 (v2.0-compatible) API is not served.
"""

import copy

from rdpconsole.api import links
from rdpconsole.api import microversion

V21 = {
    "id": "v2.1",
    "status": "CURRENT",
    "version": microversion.MAX_VERSION_STRING,
    "min_version": microversion.MIN_VERSION_STRING,
    "updated": "2013-07-23T11:33:21Z",
    "links": [
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ],
    "media-types": [
        {
            "base": "application/json",
            "type": "application/vnd.openstack.compute+json;version=2.1",
        }
    ],
}

VERSIONS = {"v2.1": V21}

LEGACY_V2_MESSAGE = (
    "The legacy /v2 API is not served here. Use the v2.1 API under /v2.1 instead."
)


def version_list(root_url):
    """Return the ``GET /`` document."""
    documents = []
    for version_id in sorted(VERSIONS):
        version = VERSIONS[version_id]
        documents.append({
            "id": version["id"],
            "status": version["status"],
            "version": version["version"],
            "min_version": version["min_version"],
            "updated": version["updated"],
            "links": [{"rel": "self", "href": links.url_join(root_url, version_id, "")}],
        })
    return {"versions": documents}


def choices(root_url, path):
    """Return the 300 document for any other path, which links that path in each version."""
    documents = []
    for version_id in sorted(VERSIONS):
        version = VERSIONS[version_id]
        documents.append({
            "id": version["id"],
            "status": version["status"],
            "links": [{"rel": "self", "href": links.url_join(root_url, version_id, path)}],
            "media-types": version["media-types"],
        })
    return {"choices": documents}


def version_v21(root_url):
    """Return the ``GET /v2.1`` document."""
    document = copy.deepcopy(V21)
    document["links"].insert(0, {"rel": "self", "href": root_url.rstrip("/") + "/v2.1/"})
    return {"version": document}
