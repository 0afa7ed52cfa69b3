"""GET /servers, /servers/detail and /servers/{id}: the inventory, read-only, in Nova's shapes.

Filtering follows Nova 28.0.0: servers.py ``_get_servers``, compute
``API.get_all`` and the database filters. ``name`` and the other regex
filters match unanchored. Non-administrators may only use the filters that
Nova allows them at the request's microversion, and the others are ignored.
Only administrators may list other projects with ``all_tenants``.
"""

import datetime

from oslo_utils import strutils
from oslo_utils import timeutils

from rdpconsole.api import dispatch
from rdpconsole.api import faults
from rdpconsole.api import links
from rdpconsole.api.schemas import servers as schema
from rdpconsole.api.views import servers as views
from rdpconsole.domain import servers as servers_domain
from rdpconsole.policies import extended_server_attributes as esa_policies
from rdpconsole.policies import servers as server_policies

SERVERS = server_policies.SERVERS

PAGING_SORTING_PARAMS = ("sort_key", "sort_dir", "limit", "marker")
TAG_SEARCH_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")

# Filters compared for equality; Nova's database layer matches every other
# instance column as an unanchored regular expression.
EXACT_FILTERS = ("project_id", "user_id", "image_ref", "vm_state", "uuid", "host",
                 "task_state", "locked")
REGEX_FILTERS = ("display_name", "display_description", "hostname", "node",
                 "availability_zone", "key_name", "reservation_id", "kernel_id",
                 "ramdisk_id", "launched_at", "terminated_at", "created_at",
                 "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config",
                 "progress", "power_state", "launch_index", "root_device_name",
                 "locked_by")

# Nova's status mapping (nova/api/openstack/common.py _STATE_MAP): for each
# vm_state, the status of each task_state, and "default" for the others.
STATE_MAP = {
    "active": {
        "default": "ACTIVE", "rebooting": "REBOOT", "reboot_pending": "REBOOT",
        "reboot_started": "REBOOT", "rebooting_hard": "HARD_REBOOT",
        "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
        "updating_password": "PASSWORD", "rebuilding": "REBUILD",
        "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
        "migrating": "MIGRATING", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
        "resize_migrated": "RESIZE", "resize_finish": "RESIZE",
    },
    "building": {"default": "BUILD"},
    "stopped": {
        "default": "SHUTOFF", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
        "resize_migrated": "RESIZE", "resize_finish": "RESIZE", "rebuilding": "REBUILD",
        "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
    },
    "resized": {"default": "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    "paused": {"default": "PAUSED", "migrating": "MIGRATING"},
    "suspended": {"default": "SUSPENDED"},
    "rescued": {"default": "RESCUE"},
    "error": {
        "default": "ERROR", "rebuilding": "REBUILD",
        "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
    },
    "deleted": {"default": "DELETED"},
    "soft-delete": {"default": "SOFT_DELETED"},
    "shelved": {"default": "SHELVED"},
    "shelved_offloaded": {"default": "SHELVED_OFFLOADED"},
}


def task_and_vm_state_from_status(statuses):
    """Return the sorted vm_states and task_states that the given statuses stand for."""
    requested = {status.lower() for status in statuses}
    vm_states = set()
    task_states = set()
    for state, task_map in STATE_MAP.items():
        for task_state, status in task_map.items():
            if status.lower() in requested:
                vm_states.add(state)
                task_states.add(task_state)
    return sorted(vm_states), sorted(task_states)


def allowed_search_options(request):
    """Return the filters that non-administrators may use at the request's microversion."""
    options = ("reservation_id", "name", "status", "image", "flavor", "ip",
               "changes-since", "all_tenants")
    if request.is_supported("2.5"):
        options += ("ip6",)
    if request.is_supported("2.26"):
        options += TAG_SEARCH_FILTERS
    if request.is_supported("2.66"):
        options += ("changes-before",)
    if request.is_supported("2.73"):
        options += ("locked",)
    if request.is_supported("2.83"):
        options += ("availability_zone", "config_drive", "key_name", "created_at",
                    "launched_at", "terminated_at", "power_state", "task_state",
                    "vm_state", "progress", "user_id")
    if request.is_supported("2.90"):
        options += ("hostname",)
    return options


def _bool_option(value):
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError as error:
        raise faults.ApiError(400, f"Invalid input received: {error}") from None


def is_all_tenants(search_opts):
    """Read ``all_tenants`` as Nova does: present and empty means True."""
    value = search_opts.get("all_tenants")
    if value:
        return _bool_option(value)
    return "all_tenants" in search_opts


def _parse_time(value, name):
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise faults.ApiError(400, f"Invalid filter field: {name}.") from None


def instance_attributes(server):
    """Return the Nova instance columns of a server that list filters compare."""
    started = views.launched_at(server)
    return {
        "uuid": server.uuid,
        "display_name": server.name,
        "display_description": None,
        "project_id": server.project_id,
        "user_id": server.user_id,
        "host": server.host,
        "node": server.host,
        "task_state": server.task_state,
        "vm_state": views.vm_state(server),
        "power_state": views.power_state(server),
        "hostname": views.hostname(server),
        "availability_zone": views.availability_zone(server) or None,
        "key_name": None,
        "image_ref": "",
        "config_drive": "",
        "launch_index": 0,
        "reservation_id": views.reservation_id(server),
        "kernel_id": "",
        "ramdisk_id": "",
        "root_device_name": None,
        "locked": False,
        "locked_by": None,
        "access_ip_v4": None,
        "access_ip_v6": None,
        "auto_disk_config": False,
        "progress": 0,
        "launched_at": started,
        "terminated_at": None,
        "created_at": server.created_at,
    }


def _column_text(value):
    """Return a column value as the database renders it for a REGEXP comparison."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def _matches(attributes, filters):
    for name, expected in filters.items():
        actual = attributes[name]
        if name in EXACT_FILTERS:
            candidates = expected if isinstance(expected, list) else [expected]
            if name == "locked":
                if actual != expected:
                    return False
            elif actual is None or str(actual) not in [str(value) for value in candidates]:
                return False
        else:
            # RE2, not Python's backtracking re: the client chooses the pattern.
            if actual is None or not servers_domain.regex_search(
                str(expected), _column_text(actual)
            ):
                return False
    return True


class ServersController:
    def __init__(self, services):
        self._services = services

    @dispatch.api_version("2.1")
    @dispatch.query_schema(schema.query_params_v275, "2.75")
    @dispatch.query_schema(schema.query_params_v273, "2.73", "2.74")
    @dispatch.query_schema(schema.query_params_v266, "2.66", "2.72")
    @dispatch.query_schema(schema.query_params_v226, "2.26", "2.65")
    @dispatch.query_schema(schema.query_params_v21, "2.1", "2.25")
    def index(self, request):
        self._services.authorize(request.context, SERVERS % "index")
        return self._get_servers(request, is_detail=False)

    @dispatch.api_version("2.1")
    @dispatch.query_schema(schema.query_params_v275, "2.75")
    @dispatch.query_schema(schema.query_params_v273, "2.73", "2.74")
    @dispatch.query_schema(schema.query_params_v266, "2.66", "2.72")
    @dispatch.query_schema(schema.query_params_v226, "2.26", "2.65")
    @dispatch.query_schema(schema.query_params_v21, "2.1", "2.25")
    def detail(self, request):
        self._services.authorize(request.context, SERVERS % "detail")
        return self._get_servers(request, is_detail=True)

    @dispatch.api_version("2.1")
    def show(self, request, id):
        context = request.context
        server = self._services.get_server(context, id)
        target = {"project_id": server.project_id}
        self._services.authorize(context, SERVERS % "show", target=target)

        show_extended_attr = self._services.authorize(
            context, esa_policies.BASE_POLICY_NAME, target=target, fatal=False
        )
        show_host_status = self._services.authorize(
            context, SERVERS % "show:host_status", target=target, fatal=False
        )
        document = views.show(
            request, server, bool(show_extended_attr), bool(show_host_status),
            show_server_groups=request.is_supported("2.71"),
        )
        return {"server": document}

    def _get_servers(self, request, is_detail):
        context = request.context
        search_opts = {}
        for name, value in request.query_pairs():
            search_opts[name] = value

        if self._services.authorize(context, SERVERS % "allow_all_filters", fatal=False):
            for name in PAGING_SORTING_PARAMS:
                search_opts.pop(name, None)
        else:
            allowed = allowed_search_options(request)
            for name in [name for name in search_opts if name not in allowed]:
                search_opts.pop(name)

        for name in search_opts:
            if name in schema.JOINED_TABLE_QUERY_PARAMS_SERVERS or name.startswith("_"):
                raise faults.ApiError(400, f"Invalid filter field: {name}.")

        search_opts.pop("status", None)
        statuses = request.query_values("status")
        if statuses:
            vm_states, task_states = task_and_vm_state_from_status(statuses)
            if not vm_states and not task_states:
                if request.is_supported("2.38"):
                    raise faults.ApiError(400, "Invalid status value")
                return {"servers": []}
            search_opts["vm_state"] = vm_states
            if "default" not in task_states:
                search_opts["task_state"] = task_states

        changes_since = None
        changes_before = None
        if "changes-since" in search_opts:
            changes_since = _parse_time(search_opts.pop("changes-since"), "changes-since")
        if "changes-before" in search_opts:
            changes_before = _parse_time(search_opts.pop("changes-before"), "changes-before")
            if changes_since and changes_before < changes_since:
                raise faults.ApiError(
                    400,
                    "The value of changes-since must be less than or equal to changes-before.",
                )

        if "deleted" in search_opts:
            deleted = strutils.bool_from_string(search_opts.pop("deleted"), default=False)
        else:
            # Without a deleted filter Nova lists only live servers, unless a
            # changes-since or changes-before filter requests recent deletions too.
            deleted = False if changes_since is None and changes_before is None else None
        if search_opts.get("vm_state") == ["deleted"]:
            if not context.is_admin:
                raise faults.ApiError(403, "Only administrators may list deleted instances")
            deleted = True
        soft_deleted_value = search_opts.pop("soft_deleted", None)

        if request.is_supported("2.26"):
            for name in TAG_SEARCH_FILTERS:
                if name in search_opts:
                    search_opts[name] = search_opts[name].split(",")

        all_tenants = is_all_tenants(search_opts)
        search_opts.pop("all_tenants", None)

        if "locked" in search_opts:
            search_opts["locked"] = _bool_option(search_opts["locked"])

        scope_project = None
        if all_tenants:
            rule = "detail:get_all_tenants" if is_detail else "index:get_all_tenants"
            self._services.authorize(context, SERVERS % rule)
        else:
            # Without all_tenants Nova ignores tenant_id and lists the caller's
            # project, or the caller's own servers for a token without a project.
            search_opts.pop("tenant_id", None)
            if context.project_id:
                scope_project = context.project_id
            else:
                search_opts["user_id"] = context.user_id

        limit, marker = self._limit_and_marker(request)
        self._check_sort_keys(request)

        filters = self._database_filters(search_opts)
        if filters is None:
            servers = []
        else:
            servers = self._list(
                scope_project, filters, marker, limit,
                deleted, soft_deleted_value, changes_since, changes_before,
            )
        return self._view(request, servers, is_detail)

    def _limit_and_marker(self, request):
        limit = links.page_size(request, self._services.max_limit)
        markers = request.query_values("marker")
        return limit, (markers[-1] if markers else None)

    @staticmethod
    def _check_sort_keys(request):
        # NOTE: sort_key and sort_dir are validated and checked as in Nova, but
        # lists always come newest first (created_at, then id, descending).
        ignored = schema.SERVER_LIST_IGNORE_SORT_KEY
        if request.is_supported("2.73"):
            ignored = schema.SERVER_LIST_IGNORE_SORT_KEY_V273
        for key in request.query_values("sort_key"):
            key = key.strip()
            if key in ignored:
                continue
            if key in ("host", "node") and not request.context.is_admin:
                raise faults.ApiError(403, f"Only administrators can sort servers by {key}")

    @staticmethod
    def _database_filters(search_opts):
        """Translate search options into instance column filters, as compute API.get_all does.

        Returns None when a filter can match nothing here: every server has
        no flavor, image, tags or IP addresses in the inventory.
        """
        filters = {}
        for name, value in search_opts.items():
            if name in ("flavor", "ip", "ip6", "tags", "tags-any"):
                return None
            if name in ("not-tags", "not-tags-any", "sort_key", "sort_dir", "limit", "marker"):
                continue
            column = {"image": "image_ref", "name": "display_name",
                      "tenant_id": "project_id"}.get(name, name)
            if column in EXACT_FILTERS or column in REGEX_FILTERS:
                filters[column] = value
        return filters

    def _list(self, scope_project, filters, marker, limit, deleted,
              soft_deleted_value, changes_since, changes_before):
        if limit == 0:
            return []

        name_regex = filters.pop("display_name", None)
        rows = self._services.servers.list(
            project_id=scope_project, name_regex=name_regex, marker=marker
        )

        result = []
        for server in rows:
            if not self._matches_deleted(server, deleted, soft_deleted_value):
                continue
            changed = server.updated_at or server.created_at
            if changes_since is not None and changed < changes_since:
                continue
            if changes_before is not None and changed > changes_before:
                continue
            if not _matches(instance_attributes(server), filters):
                continue
            result.append(server)
            if len(result) == limit:
                break
        return result

    @staticmethod
    def _matches_deleted(server, deleted, soft_deleted_value):
        if deleted is None:
            return True
        if deleted:
            include_soft = True
            if soft_deleted_value is not None:
                include_soft = strutils.bool_from_string(soft_deleted_value)
            return server.status == "DELETED" or (include_soft and server.status == "SOFT_DELETED")
        if server.status == "DELETED":
            return False
        if server.status == "SOFT_DELETED":
            return bool(soft_deleted_value) and strutils.bool_from_string(soft_deleted_value)
        return True

    def _view(self, request, servers, is_detail):
        context = request.context
        if is_detail:
            show_extended_attr = bool(self._services.authorize(
                context, esa_policies.BASE_POLICY_NAME, fatal=False
            ))
            show_host_status = bool(self._services.authorize(
                context, SERVERS % "show:host_status", fatal=False
            ))
            documents = [
                views.show(request, server, show_extended_attr, show_host_status)
                for server in servers
            ]
            collection = views.COLLECTION + "/detail"
        else:
            documents = [views.basic(request, server) for server in servers]
            collection = views.COLLECTION

        result = {"servers": documents}
        next_links = links.collection_links(
            request, servers, collection, self._services.max_limit
        )
        if next_links:
            result["servers_links"] = next_links
        return result
