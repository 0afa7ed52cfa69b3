"""Server documents in Nova's shapes (nova/api/openstack/compute/views/servers.py, 28.0.0).

The inventory stores a server's status, task state, compute host and console
endpoint. The other fields that clients parse are filled with the values
Nova shows for a server without them: no image (boot from volume), a flavor
that is gone from the database, no addresses, no key pair, not locked.
"""

import hashlib

from rdpconsole.api import links

COLLECTION = "servers"

# Server status to (vm_state, power_state), the inverse of Nova's status
# mapping in nova/api/openstack/common.py. Power states are nova.compute.power_state
# codes: 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 7 SUSPENDED.
STATUS_STATES = {
    "ACTIVE": ("active", 1),
    "BUILD": ("building", 0),
    "DELETED": ("deleted", 0),
    "ERROR": ("error", 0),
    "HARD_REBOOT": ("active", 1),
    "MIGRATING": ("active", 1),
    "PASSWORD": ("active", 1),
    "PAUSED": ("paused", 3),
    "REBOOT": ("active", 1),
    "REBUILD": ("active", 1),
    "RESCUE": ("rescued", 1),
    "RESIZE": ("active", 1),
    "REVERT_RESIZE": ("resized", 1),
    "SHELVED": ("shelved", 4),
    "SHELVED_OFFLOADED": ("shelved_offloaded", 4),
    "SHUTOFF": ("stopped", 4),
    "SOFT_DELETED": ("soft-delete", 4),
    "SUSPENDED": ("suspended", 7),
    "UNKNOWN": (None, 0),
    "VERIFY_RESIZE": ("resized", 1),
}

PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")

# Nova's [DEFAULT] default_availability_zone: the zone of a host in no aggregate.
DEFAULT_AVAILABILITY_ZONE = "nova"


def isotime(moment):
    """Format a naive UTC datetime as Nova's utils.isotime does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def primitive_time(moment):
    """Format a naive datetime as oslo.serialization's to_primitive does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def vm_state(server):
    return STATUS_STATES.get(server.status, (None, 0))[0]


def power_state(server):
    return STATUS_STATES.get(server.status, (None, 0))[1]


def host_id(server):
    """Return Nova's obfuscated hostId: SHA-224 of project id and host, or "" without a host."""
    if not server.host:
        return ""
    return hashlib.sha224((server.project_id + server.host).encode("utf-8")).hexdigest()


def availability_zone(server):
    return DEFAULT_AVAILABILITY_ZONE if server.host else ""


def instance_name(server):
    """Return the hypervisor-side name in Nova's default template ``instance-%08x``."""
    return "instance-%08x" % server.id


def reservation_id(server):
    return "r-" + server.uuid.replace("-", "")[:8]


def hostname(server):
    """Return the server name sanitized into a host name, as Nova does on create."""
    cleaned = []
    for character in server.name.lower():
        if character.isalnum() and character.isascii():
            cleaned.append(character)
        elif character in " _-.":
            cleaned.append("-")
    result = "".join(cleaned).strip("-.")[:63]
    return result or "server-" + server.uuid


def launched_at(server):
    return server.created_at if server.host else None


def basic(request, server):
    """The ``GET /servers`` entry: id, name and links."""
    return {
        "id": server.uuid,
        "name": server.name,
        "links": links.resource_links(request, COLLECTION, server.uuid),
    }


def show(request, server, show_extended_attr, show_host_status, show_server_groups=False):
    """The full server document of ``GET /servers/{id}`` and ``/servers/detail``."""
    version = request.version
    document = {
        "id": server.uuid,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id or "",
        "user_id": server.user_id or "",
        "metadata": dict(server.metadata_ or {}),
        "hostId": host_id(server),
        "image": "",
        "flavor": {},
        "created": isotime(server.created_at),
        "updated": isotime(server.updated_at or server.created_at),
        "addresses": {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links.resource_links(request, COLLECTION, server.uuid),
        "OS-DCF:diskConfig": "MANUAL",
    }
    if server.status in PROGRESS_STATUSES:
        document["progress"] = 0

    document["OS-EXT-AZ:availability_zone"] = availability_zone(server)
    document["config_drive"] = ""
    document["key_name"] = None
    started = launched_at(server)
    document["OS-SRV-USG:launched_at"] = primitive_time(started) if started else None
    document["OS-SRV-USG:terminated_at"] = None

    if show_extended_attr:
        document["OS-EXT-SRV-ATTR:host"] = server.host
        document["OS-EXT-SRV-ATTR:instance_name"] = instance_name(server)
        document["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server.host
        if version >= "2.3":
            document["OS-EXT-SRV-ATTR:reservation_id"] = reservation_id(server)
            document["OS-EXT-SRV-ATTR:launch_index"] = 0
            document["OS-EXT-SRV-ATTR:hostname"] = hostname(server)
            document["OS-EXT-SRV-ATTR:kernel_id"] = ""
            document["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            document["OS-EXT-SRV-ATTR:root_device_name"] = None
            document["OS-EXT-SRV-ATTR:user_data"] = None

    document["OS-EXT-STS:task_state"] = server.task_state
    document["OS-EXT-STS:vm_state"] = vm_state(server)
    document["OS-EXT-STS:power_state"] = power_state(server)

    document["os-extended-volumes:volumes_attached"] = []

    if version >= "2.16" and show_host_status:
        document["host_status"] = "UP" if server.host else ""
    if version >= "2.9":
        document["locked"] = False
    if version >= "2.73":
        document["locked_reason"] = None
    if version >= "2.19":
        document["description"] = None
    if version >= "2.26":
        document["tags"] = []
    if version >= "2.63":
        document["trusted_image_certificates"] = None
    if version >= "2.90" and not show_extended_attr:
        document["OS-EXT-SRV-ATTR:hostname"] = hostname(server)
    if show_server_groups:
        document["server_groups"] = []
    return document
