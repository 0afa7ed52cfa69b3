"""Query strings of GET /servers and /servers/detail, per microversion range.

Up to 2.74 unknown parameters pass the schema and are then dropped; from
2.75 the schema rejects them (400).
"""

import copy


def multi_params(schema):
    """Schema of a query parameter, which may be given several times."""
    return {"type": "array", "items": schema}


common_query_param = multi_params({"type": "string"})
common_query_regex_param = multi_params({"type": "string", "format": "regex"})
non_negative_integer = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 0,
    "minLength": 1,
}

# Filters on joined tables: admitted by the schema so that the API can return
# 400 "Invalid filter field" for them instead of ignoring them.
JOINED_TABLE_QUERY_PARAMS_SERVERS = {
    "block_device_mapping": common_query_param,
    "services": common_query_param,
    "metadata": common_query_param,
    "system_metadata": common_query_param,
    "info_cache": common_query_param,
    "security_groups": common_query_param,
    "pci_devices": common_query_param,
}

# Sort keys that were accepted before schema validation existed and are
# ignored instead of rejected.
SERVER_LIST_IGNORE_SORT_KEY = [
    "architecture", "cell_name", "cleaned", "default_ephemeral_device",
    "default_swap_device", "deleted", "deleted_at", "disable_terminate",
    "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on",
    "locked", "memory_mb", "os_type", "reservation_id", "root_gb",
    "shutdown_terminate", "user_data", "vcpus", "vm_mode",
]
SERVER_LIST_IGNORE_SORT_KEY_V273 = [key for key in SERVER_LIST_IGNORE_SORT_KEY if key != "locked"]

_SORT_KEYS = [
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone",
    "config_drive", "created_at", "display_description", "display_name", "host",
    "hostname", "image_ref", "instance_type_id", "kernel_id", "key_name",
    "launch_index", "launched_at", "locked_by", "node", "power_state",
    "progress", "project_id", "ramdisk_id", "root_device_name", "task_state",
    "terminated_at", "updated_at", "user_id", "uuid", "vm_state",
]
VALID_SORT_KEYS = {"type": "string", "enum": _SORT_KEYS + SERVER_LIST_IGNORE_SORT_KEY}
VALID_SORT_KEYS_V273 = {
    "type": "string",
    "enum": ["locked"] + _SORT_KEYS + SERVER_LIST_IGNORE_SORT_KEY_V273,
}
VALID_SORT_KEYS_V275 = {"type": "string", "enum": ["locked"] + _SORT_KEYS}

query_params_v21 = {
    "type": "object",
    "properties": {
        "user_id": common_query_param,
        "project_id": common_query_param,
        "tenant_id": common_query_param,
        "launch_index": common_query_param,
        "image_ref": common_query_param,
        "image": common_query_param,
        "kernel_id": common_query_regex_param,
        "ramdisk_id": common_query_regex_param,
        "hostname": common_query_regex_param,
        "key_name": common_query_regex_param,
        "power_state": common_query_regex_param,
        "vm_state": common_query_param,
        "task_state": common_query_param,
        "host": common_query_param,
        "node": common_query_regex_param,
        "flavor": common_query_regex_param,
        "reservation_id": common_query_regex_param,
        "launched_at": common_query_regex_param,
        "terminated_at": common_query_regex_param,
        "availability_zone": common_query_regex_param,
        "name": common_query_regex_param,
        "display_name": common_query_regex_param,
        "description": common_query_regex_param,
        "display_description": common_query_regex_param,
        "locked_by": common_query_regex_param,
        "uuid": common_query_param,
        "root_device_name": common_query_regex_param,
        "config_drive": common_query_regex_param,
        "access_ip_v4": common_query_regex_param,
        "access_ip_v6": common_query_regex_param,
        "auto_disk_config": common_query_regex_param,
        "progress": common_query_regex_param,
        "sort_key": multi_params(VALID_SORT_KEYS),
        "sort_dir": common_query_param,
        "all_tenants": common_query_param,
        "soft_deleted": common_query_param,
        "deleted": common_query_param,
        "status": common_query_param,
        "changes-since": multi_params({"type": "string", "format": "date-time"}),
        "ip": common_query_regex_param,
        "ip6": common_query_regex_param,
        "created_at": common_query_regex_param,
        "limit": multi_params(non_negative_integer),
        "marker": multi_params({"type": "string"}),
    },
    "additionalProperties": True,
    # Parameters starting with an underscore survive the stripping of
    # unknown parameters, so that the API rejects them with 400.
    "patternProperties": {"^_": common_query_param},
}
query_params_v21["properties"].update(JOINED_TABLE_QUERY_PARAMS_SERVERS)

query_params_v226 = copy.deepcopy(query_params_v21)
query_params_v226["properties"].update({
    "tags": common_query_regex_param,
    "tags-any": common_query_regex_param,
    "not-tags": common_query_regex_param,
    "not-tags-any": common_query_regex_param,
})

query_params_v266 = copy.deepcopy(query_params_v226)
query_params_v266["properties"]["changes-before"] = multi_params(
    {"type": "string", "format": "date-time"}
)

query_params_v273 = copy.deepcopy(query_params_v266)
query_params_v273["properties"]["sort_key"] = multi_params(VALID_SORT_KEYS_V273)
query_params_v273["properties"]["locked"] = common_query_param

query_params_v275 = copy.deepcopy(query_params_v273)
query_params_v275["properties"]["sort_key"] = multi_params(VALID_SORT_KEYS_V275)
query_params_v275["additionalProperties"] = False

# (minimum, maximum or None, schema), newest first.
QUERY_SCHEMAS = (
    ("2.75", None, query_params_v275),
    ("2.73", "2.74", query_params_v273),
    ("2.66", "2.72", query_params_v266),
    ("2.26", "2.65", query_params_v226),
    ("2.1", "2.25", query_params_v21),
)
