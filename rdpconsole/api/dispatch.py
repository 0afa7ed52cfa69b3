"""Routing and request processing of the v2.1 API in Nova's order of checks.

For a routed request, Nova 28.0.0 (nova/api/openstack/wsgi.py Resource)
checks, in this order: the microversion header (400, 406), the Content-Type
(415), the action key of an action body (400 ``Malformed request body``,
400 ``There is no such action``, or 404 when the body is JSON but not an
object), the body itself (400 ``Malformed request body``), the project id
of the URL (400), the method's microversion range (404), then the JSON
Schema (400); only then does the handler run.
"""

import functools
import json
import re
import urllib.parse

from starlette.responses import Response

from rdpconsole.api import faults
from rdpconsole.api import microversion
from rdpconsole.api import validation
from rdpconsole.db import engine as db_engine

SUPPORTED_CONTENT_TYPES = ("application/json", "application/vnd.openstack.compute+json")
METHODS_WITH_BODY = ("POST", "PUT")

# A project id segment in a URL, as Nova's ProjectMapper accepts it.
PROJECT_ID_PATTERN = "[0-9a-f-]+"

ACTION = "action"


class ApiRequest:
    """What a handler sees: the caller's context, the microversion, the URL and the body."""

    def __init__(self, http_request, context, version, query_pairs, body=None):
        self.http = http_request
        self.context = context
        self.version = version
        self._query_pairs = list(query_pairs)
        self.body = body

    # Built on first use: only the server views need URLs.
    @functools.cached_property
    def url(self):
        return str(self.http.url)

    @functools.cached_property
    def root_url(self):
        return str(self.http.base_url).rstrip("/")

    @functools.cached_property
    def application_url(self):
        return self.root_url + "/v2.1"

    def is_supported(self, min_version, max_version=None):
        return self.version.matches(min_version, max_version)

    def query_pairs(self):
        return list(self._query_pairs)

    def query_values(self, name):
        return [value for key, value in self._query_pairs if key == name]

    def query_dict_of_lists(self):
        result = {}
        for key, value in self._query_pairs:
            result.setdefault(key, []).append(value)
        return result

    def remove_query_params(self, names):
        names = set(names)
        self._query_pairs = [(key, value) for key, value in self._query_pairs if key not in names]


def api_version(min_version, max_version=None):
    """Mark a handler as available from ``min_version`` to ``max_version`` (None: open)."""

    def decorator(handler):
        handler.min_version = microversion.APIVersion(min_version)
        handler.max_version = microversion.APIVersion(max_version) if max_version else None
        return handler

    return decorator


def body_schema(schema, min_version="2.1", max_version=None):
    """Validate the request body against ``schema`` for microversions in the range."""
    return _add_schema("body_schemas", schema, min_version, max_version)


def query_schema(schema, min_version="2.1", max_version=None):
    """Validate the query string against ``schema`` for microversions in the range.

    Unknown parameters that the schema admits are then dropped, as Nova does.
    """
    return _add_schema("query_schemas", schema, min_version, max_version)


def _add_schema(attribute, schema, min_version, max_version):
    def decorator(handler):
        schemas = list(getattr(handler, attribute, ()))
        schemas.append((
            microversion.APIVersion(min_version),
            microversion.APIVersion(max_version) if max_version else None,
            schema,
        ))
        setattr(handler, attribute, schemas)
        return handler

    return decorator


class Route:
    """One URL template and its handlers by HTTP method, with and without a project id.

    ``bounded`` is False for routes whose work grows with the data, such as
    server lists: those never run in the event loop (see app.FrontEnd).
    """

    def __init__(self, template, methods, bounded=True):
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.template = template
        self.regex = re.compile(rf"^(?:/(?P<project_id>{PROJECT_ID_PATTERN}))?{pattern}$")
        self.methods = methods
        self.bounded = bounded

    def match(self, path):
        match = self.regex.match(path)
        if match is None:
            return None
        return {key: value for key, value in match.groupdict().items()}


class Router:
    """Match a path to a handler and run Nova's processing steps around it."""

    def __init__(self, routes, actions):
        self._routes = routes
        self._actions = actions

    def handle(self, http_request, path, raw_body, context):
        """Return the response to a request for ``path`` below /v2.1, for a known caller."""
        matched, allowed = self._match(path, http_request.method)
        if matched is None:
            return self._unrouted(http_request, allowed)

        try:
            version = microversion.resolve(http_request.headers)
        except microversion.VersionNotAcceptable as error:
            return self._with_version(faults.exception_response(error), error.version)
        except faults.ApiError as error:
            # A malformed version cannot be echoed, so Nova sends no version headers.
            return faults.exception_response(error)

        handler, path_args = matched
        try:
            result = self._process(http_request, handler, path_args, raw_body, context, version)
            response = json_response(result)
        except db_engine.LockNotAvailable:
            # Not a fault: the caller runs the request again where it may wait for the lock.
            raise
        except Exception as error:  # noqa: BLE001 - faults.describe maps every error
            response = faults.exception_response(error)
        return self._with_version(response, version)

    def is_bounded(self, path):
        """Return False when ``path`` matches a route whose work grows with the data."""
        for route in self._routes:
            if route.regex.match(path) is not None:
                return route.bounded
        return True

    def _match(self, path, method):
        allowed = []
        for route in self._routes:
            path_args = route.match(path)
            if path_args is None:
                continue
            handler = route.methods.get(method)
            if handler is not None:
                return (handler, path_args), allowed
            allowed.extend(name for name in route.methods if name not in allowed)
        return None, allowed

    def _unrouted(self, http_request, allowed):
        if allowed:
            response = faults.fault_response(
                405,
                f"The method {http_request.method} is not allowed for this resource.",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        else:
            response = faults.fault_response(404, faults.GENERIC_NOT_FOUND)
        try:
            version = microversion.resolve(http_request.headers)
        except faults.ApiError:
            return response
        return self._with_version(response, version)

    @staticmethod
    def _with_version(response, version):
        for name, value in microversion.response_headers(version).items():
            response.headers[name] = value
        return response

    def _process(self, http_request, handler, path_args, raw_body, context, version):
        check_content_type(http_request.headers.get("content-type"))

        if handler == ACTION:
            action_key = peek_action(raw_body)
            try:
                handler = self._actions[action_key]
            except KeyError:
                raise faults.ApiError(400, f"There is no such action: {action_key}") from None

        body = None
        if http_request.method in METHODS_WITH_BODY:
            body = parse_body(http_request.headers.get("content-length"), raw_body)

        url_project_id = path_args.pop("project_id", None)
        if url_project_id and url_project_id != context.project_id:
            raise faults.ApiError(
                400,
                f"Malformed request URL: URL's project_id '{url_project_id}' doesn't "
                f"match Context's project_id '{context.project_id}'",
            )

        if not version.matches(handler.min_version, handler.max_version):
            raise faults.ApiError(404, faults.GENERIC_NOT_FOUND)

        request = ApiRequest(http_request, context, version, parse_query(http_request), body)
        for min_version, max_version, schema in getattr(handler, "body_schemas", ()):
            if version.matches(min_version, max_version):
                validation.validate_body(schema, body, raw_body)
        for min_version, max_version, schema in getattr(handler, "query_schemas", ()):
            if version.matches(min_version, max_version):
                validation.validate(schema, request.query_dict_of_lists(), is_body=False)
                strip_unknown_query_params(schema, request)
        return handler(request, **path_args)


def check_content_type(header):
    """Raise 415 for a request Content-Type other than JSON, empty or text/plain."""
    if header is None:
        return
    media_type = header.split(";", 1)[0].strip()
    if not media_type or media_type == "text/plain":
        return
    if media_type not in SUPPORTED_CONTENT_TYPES:
        raise faults.ApiError(415, "Unsupported Content-Type")


def _loads(raw_body):
    try:
        return json.loads(raw_body.decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError covers UnicodeDecodeError; RecursionError is JSON nested
        # deeper than the interpreter's recursion limit.
        raise faults.ApiError(400, "Malformed request body") from None


def peek_action(raw_body):
    """Return the action key of an action body, which must have exactly one key.

    A JSON value that is not an object but has length one (a one-element
    list, a one-character string) or no length at all (null, a number) is a
    404 in Nova, because the dispatcher fails to look the action up.
    """
    decoded = _loads(raw_body)
    try:
        if len(decoded) != 1:
            raise faults.ApiError(400, "Malformed request body")
        return list(decoded.keys())[0]
    except (AttributeError, TypeError):
        raise faults.ApiError(404, faults.GENERIC_NOT_FOUND) from None


def parse_body(content_length, raw_body):
    """Return the decoded JSON body, or None when the request declares no content."""
    if content_length in (None, "", "0"):
        return None
    return _loads(raw_body)


def parse_query(http_request):
    """Return the query string as (name, value) pairs, blank values kept."""
    query_string = http_request.scope.get("query_string", b"")
    try:
        text = query_string.decode("latin-1")
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise faults.ApiError(400, "Query string is not UTF-8 encoded") from None


def strip_unknown_query_params(schema, request):
    """Drop query parameters that the schema neither names nor matches by pattern."""
    known = set(schema["properties"])
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    unknown = [
        name for name, _value in request.query_pairs()
        if name not in known and not any(pattern.match(name) for pattern in patterns)
    ]
    if unknown:
        request.remove_query_params(unknown)


def json_response(result, status_code=200):
    """Serialize a handler's result dict as Nova does for successful responses."""
    body = json.dumps(result).encode("utf-8")
    return Response(body, status_code=status_code, media_type="application/json")
