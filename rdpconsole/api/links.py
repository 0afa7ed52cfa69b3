"""Links in response bodies: self, bookmark and next, built as Nova builds them."""

import collections
import urllib.parse

from rdpconsole.api import faults


def url_join(*parts):
    """Join URL parts with single slashes; an empty last part leaves a trailing slash.

    Empty parts are skipped, as in Nova's common.url_join.
    """
    parts = parts or ("",)
    cleaned = [part.strip("/") for part in parts if part]
    if not parts[-1]:
        cleaned.append("")
    return "/".join(cleaned)


def project_segment(request):
    """Return the caller's project id when the request URL contains it, else "".

    Nova tests whether the project id occurs anywhere in the request URL,
    not whether the path has a project segment; this keeps that behaviour.
    """
    project_id = request.context.project_id
    if project_id and project_id in request.url:
        return project_id
    return ""


def self_link(request, collection, identifier):
    return url_join(request.application_url, project_segment(request), collection, str(identifier))


def bookmark_link(request, collection, identifier):
    return url_join(request.root_url, project_segment(request), collection, str(identifier))


def resource_links(request, collection, identifier):
    return [
        {"rel": "self", "href": self_link(request, collection, identifier)},
        {"rel": "bookmark", "href": bookmark_link(request, collection, identifier)},
    ]


def page_size(request, max_limit):
    """Return the page size: the last ``limit`` query value, capped at ``max_limit``.

    The schema admits only digits in ``limit``, but Python's int() rejects
    more than 4300 of them; Nova's validate_integer returns 400 for that.
    """
    values = request.query_values("limit")
    if not values:
        return max_limit
    try:
        requested = int(values[-1])
    except ValueError:
        raise faults.ApiError(400, "Invalid input received: limit must be an integer") from None
    return min(requested, max_limit)


def collection_links(request, items, collection, max_limit, id_key="uuid"):
    """Return the ``next`` link list of a page, which is non-empty only for a full page."""
    size = page_size(request, max_limit)
    if not size or size != len(items):
        return []

    last_id = getattr(items[-1], id_key)
    params = collections.OrderedDict(sorted(request.query_pairs()))
    params["marker"] = last_id
    url = url_join(request.application_url, project_segment(request), collection)
    return [{"rel": "next", "href": f"{url}?{urllib.parse.urlencode(params)}"}]
