"""Parse and validate a declarative inventory file.

An inventory file is one YAML mapping::

    scope: hyperv-lab            # required: the servers this file manages
    servers:                     # required, may be empty
      - id: 3f0d8a36-5d29-4c61-9b9c-0d5b4d0a8f10   # required UUID, keeps sync idempotent
        name: win-01                               # required
        project_id: 8a7e...                        # required
        user_id: 1c4b...                           # required
        console_host: 192.0.2.10                   # required: RDP endpoint address or DNS name
        console_port: 2179                         # default 3389
        vm_id: 2d3c...                             # Hyper-V VM GUID, default none
        status: ACTIVE                             # default ACTIVE
        compute_host: hv-01                        # default none: the server is not ready
        task_state: null                           # default none
        metadata: {role: lab}                      # strings only, default {}

A file with any problem is rejected whole: every problem is reported with
its line number and nothing is stored.
"""

import dataclasses

import yaml
from yaml.constructor import ConstructorError
from yaml.constructor import SafeConstructor

from rdpconsole.domain import servers as servers_module

TOP_LEVEL_KEYS = ("scope", "servers")

# Keys of a server entry, in the file's names, and the server model field each sets.
SERVER_KEYS = {
    "id": "uuid",
    "name": "name",
    "project_id": "project_id",
    "user_id": "user_id",
    "console_host": "console_host",
    "console_port": "console_port",
    "vm_id": "vm_id",
    "status": "status",
    "compute_host": "host",
    "task_state": "task_state",
    "metadata": "metadata",
}
REQUIRED_SERVER_KEYS = ("id", "name", "project_id", "user_id", "console_host")
NULLABLE_SERVER_KEYS = ("vm_id", "compute_host", "task_state")
STRING_SERVER_KEYS = (
    "id", "name", "project_id", "user_id", "console_host", "vm_id", "status",
    "compute_host", "task_state",
)
SERVER_DEFAULTS = {
    "console_port": servers_module.DEFAULT_CONSOLE_PORT,
    "vm_id": None,
    "status": "ACTIVE",
    "compute_host": None,
    "task_state": None,
    "metadata": {},
}
MAX_SCOPE_LENGTH = servers_module.MAX_STRING_LENGTH


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem of an inventory file: a 1-based line number (None for the whole file) and a reason."""

    line: int | None
    message: str


class InventoryError(Exception):
    """An inventory file was rejected; ``problems`` lists every reason with its line."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self):
        """Return one 'FILE:LINE: reason' line per problem."""
        result = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line is not None else self.path
            result.append(f"{where}: {problem.message}")
        return result


@dataclasses.dataclass(frozen=True)
class InventoryServer:
    """A server as an inventory file declares it.

    ``fields`` uses the server model's names (``uuid``, ``host``,
    ``metadata_``...), validated and normalized by the domain.
    """

    uuid: str
    fields: dict
    line: int | None = None

    @property
    def name(self):
        return self.fields["name"]


@dataclasses.dataclass(frozen=True)
class Inventory:
    """The parsed content of one inventory file."""

    scope: str
    servers: tuple
    path: str = "<inventory>"

    def line_of(self, uuid):
        for server in self.servers:
            if server.uuid == uuid:
                return server.line
        return None


def build_server(values, line=None):
    """Return an InventoryServer from a mapping with the file's keys, defaults applied.

    Raises servers.InvalidServerField on a missing or invalid value.
    """
    for key in REQUIRED_SERVER_KEYS:
        if values.get(key) in (None, ""):
            raise servers_module.InvalidServerField(field=key, value=values.get(key), reason="is required")
    complete = {**SERVER_DEFAULTS, **values}
    fields = servers_module.validate_fields(
        {SERVER_KEYS[key]: value for key, value in complete.items()}
    )
    return InventoryServer(uuid=fields["uuid"], fields=fields, line=line)


def load_inventory(path):
    """Read and parse the inventory file at ``path``; raise InventoryError if it is unusable."""
    try:
        with open(path, encoding="utf-8") as inventory_file:
            text = inventory_file.read()
    except OSError as error:
        raise InventoryError(path, [Problem(None, f"cannot read the file: {error.strerror}; check the path and its permissions")]) from None
    except UnicodeDecodeError as error:
        raise InventoryError(path, [Problem(None, f"the file is not UTF-8 text ({error.reason}); save it as UTF-8")]) from None
    return parse_inventory(text, path)


def parse_inventory(text, path="<inventory>"):
    """Parse inventory YAML ``text``; raise InventoryError listing every problem it finds."""
    parser = _Parser(path)
    inventory = parser.parse(text)
    if parser.problems:
        problems = sorted(parser.problems, key=lambda problem: problem.line or 0)
        raise InventoryError(path, problems)
    return inventory


def _line(node):
    return node.start_mark.line + 1


def _type_name(value):
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), f"a {type(value).__name__}")


class _Parser:
    """Walk the YAML node tree so that every problem carries the line it is on."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self._constructor = SafeConstructor()

    def problem(self, node_or_line, message):
        line = node_or_line if isinstance(node_or_line, int) or node_or_line is None else _line(node_or_line)
        self.problems.append(Problem(line, message))

    def parse(self, text):
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            reason = error.problem or error.context or "invalid YAML"
            if error.context and error.problem:
                reason = f"{error.context}, {error.problem}"
            self.problem(mark.line + 1 if mark else None, f"invalid YAML: {reason}")
            return None
        except yaml.YAMLError as error:
            self.problem(None, f"invalid YAML: {error}")
            return None

        if root is None:
            self.problem(None, "the file is empty: expected a mapping with 'scope' and 'servers'")
            return None
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with 'scope' and 'servers' at the top level")
            return None

        entries = self.mapping_entries(root, "the top level")
        for key, key_node in entries.items():
            if key not in TOP_LEVEL_KEYS:
                self.problem(key_node[0], f"unknown key {key!r} at the top level: expected "
                             f"{' and '.join(TOP_LEVEL_KEYS)}")

        scope = self.parse_scope(root, entries)
        servers = self.parse_servers(root, entries)
        if self.problems:
            return None
        return Inventory(scope=scope, servers=tuple(servers), path=self.path)

    def mapping_entries(self, node, where):
        """Return {key: (key node, value node)}; report duplicate and non-string keys."""
        entries = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.problem(key_node, f"keys in {where} must be strings, found {_type_name(key)}")
                continue
            if key in entries:
                first_line = _line(entries[key][0])
                self.problem(key_node, f"duplicate key {key!r} in {where} (first on line {first_line})")
                continue
            entries[key] = (key_node, value_node)
        return entries

    def scalar(self, node):
        """Return the Python value of a scalar node, or a marker object for collections."""
        if isinstance(node, yaml.MappingNode):
            return {}
        if isinstance(node, yaml.SequenceNode):
            return []
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as error:
            self.problem(node, f"invalid value: {error.problem}")
            return None

    def parse_scope(self, root, entries):
        if "scope" not in entries:
            self.problem(root, "missing required key 'scope' (the name of the server set this file manages)")
            return None
        _key_node, value_node = entries["scope"]
        scope = self.scalar(value_node)
        if not isinstance(scope, str) or not scope.strip():
            self.problem(value_node, f"invalid scope: expected a non-empty string, found {_type_name(scope)}")
            return None
        if len(scope) > MAX_SCOPE_LENGTH:
            self.problem(value_node, f"invalid scope: longer than {MAX_SCOPE_LENGTH} characters")
            return None
        return scope

    def parse_servers(self, root, entries):
        if "servers" not in entries:
            self.problem(root, "missing required key 'servers' (a list, empty to remove every "
                         "server of the scope)")
            return []
        _key_node, value_node = entries["servers"]
        if isinstance(value_node, yaml.ScalarNode) and self.scalar(value_node) is None:
            self.problem(value_node, "invalid servers: expected a list, found null; write "
                         "'servers: []' for no servers")
            return []
        if not isinstance(value_node, yaml.SequenceNode):
            self.problem(value_node, f"invalid servers: expected a list, found "
                         f"{_type_name(self.scalar(value_node))}")
            return []

        servers = []
        first_line_of_id = {}
        for index, item_node in enumerate(value_node.value):
            server, uuid = self.parse_server(item_node, index)
            if uuid is not None:
                if uuid in first_line_of_id:
                    self.problem(item_node, f"duplicate server id {uuid} (first on line "
                                 f"{first_line_of_id[uuid]})")
                    continue
                first_line_of_id[uuid] = _line(item_node)
            if server is not None:
                servers.append(server)
        return servers

    def parse_server(self, node, index):
        """Return (InventoryServer or None, its normalized id or None), reporting every problem."""
        where = f"server #{index + 1}"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"invalid {where}: expected a mapping, found "
                         f"{_type_name(self.scalar(node))}")
            return None, None

        problems_before = len(self.problems)
        entries = self.mapping_entries(node, where)
        values = {}
        normalized = {}
        for key, (key_node, value_node) in entries.items():
            if key not in SERVER_KEYS:
                self.problem(key_node, f"unknown key {key!r} in {where}: expected one of "
                             f"{', '.join(SERVER_KEYS)}")
                continue
            value = self.parse_server_value(key, value_node, where)
            if value is _INVALID:
                continue
            try:
                normalized.update(servers_module.validate_fields({SERVER_KEYS[key]: value}))
            except servers_module.InvalidServerField as error:
                self.problem(value_node, f"{error.message} (in {where})")
                continue
            values[key] = value

        for key in REQUIRED_SERVER_KEYS:
            if key not in entries:
                self.problem(node, f"missing required key {key!r} in {where}")

        uuid = normalized.get("uuid")
        if len(self.problems) > problems_before:
            return None, uuid
        try:
            return build_server(values, line=_line(node)), uuid
        except servers_module.InvalidServerField as error:
            self.problem(node, f"{error.message} (in {where})")
            return None, uuid

    def parse_server_value(self, key, node, where):
        """Return the Python value of one server key, or _INVALID after reporting a problem."""
        if key == "metadata":
            return self.parse_metadata(node, where)

        value = self.scalar(node)
        if value is None and key in NULLABLE_SERVER_KEYS:
            return None
        if value is None:
            self.problem(node, f"missing value for {key!r} in {where}")
            return _INVALID
        if key in STRING_SERVER_KEYS and not isinstance(value, str):
            self.problem(node, f"invalid {key} in {where}: expected a string, found "
                         f"{_type_name(value)}; quote the value")
            return _INVALID
        if key == "console_port" and (isinstance(value, bool) or not isinstance(value, int)):
            self.problem(node, f"invalid console_port in {where}: expected an integer from 1 to "
                         f"65535, found {_type_name(value)}")
            return _INVALID
        return value

    def parse_metadata(self, node, where):
        if isinstance(node, yaml.ScalarNode) and self.scalar(node) is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"invalid metadata in {where}: expected a mapping of strings, found "
                         f"{_type_name(self.scalar(node))}")
            return _INVALID
        metadata = {}
        valid = True
        for key, (_key_node, value_node) in self.mapping_entries(node, f"metadata of {where}").items():
            value = self.scalar(value_node)
            if not isinstance(value, str):
                self.problem(value_node, f"invalid metadata value for {key!r} in {where}: expected a "
                             f"string, found {_type_name(value)}; quote the value")
                valid = False
                continue
            metadata[key] = value
        return metadata if valid else _INVALID


_INVALID = object()
