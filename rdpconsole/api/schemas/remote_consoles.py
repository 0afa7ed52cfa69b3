"""Bodies of the console actions and of POST /servers/{id}/remote-consoles."""

import copy


def _action(action_key, console_types):
    return {
        "type": "object",
        "properties": {
            action_key: {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(console_types)},
                },
                "required": ["type"],
                "additionalProperties": False,
            },
        },
        "required": [action_key],
        "additionalProperties": False,
    }


get_vnc_console = _action("os-getVNCConsole", ["novnc", "xvpvnc"])
get_spice_console = _action("os-getSPICEConsole", ["spice-html5"])
get_rdp_console = _action("os-getRDPConsole", ["rdp-html5"])
get_serial_console = _action("os-getSerialConsole", ["serial"])

# Protocol and type are checked independently, so a mismatched pair such as
# rdp + novnc passes the schema and fails later.
create_v26 = {
    "type": "object",
    "properties": {
        "remote_console": {
            "type": "object",
            "properties": {
                "protocol": {
                    "type": "string",
                    "enum": ["vnc", "spice", "rdp", "serial"],
                },
                "type": {
                    "type": "string",
                    "enum": ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"],
                },
            },
            "required": ["protocol", "type"],
            "additionalProperties": False,
        },
    },
    "required": ["remote_console"],
    "additionalProperties": False,
}

# Microversion 2.8 adds the VMware MKS protocol and its webmks type.
create_v28 = copy.deepcopy(create_v26)
create_v28["properties"]["remote_console"]["properties"]["protocol"]["enum"].append("mks")
create_v28["properties"]["remote_console"]["properties"]["type"]["enum"].append("webmks")
