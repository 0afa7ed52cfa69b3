"""Console URLs: the four legacy server actions (2.1-2.5) and POST remote-consoles (2.6+).

Only RDP consoles exist here. The other protocols pass the same schema,
policy and state checks as in Nova and then fail like a Nova compute host
with that console type disabled: 400 ``Unavailable console type <type>.``
"""

import logging

from rdpconsole.api import dispatch
from rdpconsole.api.schemas import remote_consoles as schema
from rdpconsole.domain import consoles
from rdpconsole.domain import exceptions
from rdpconsole.policies import remote_consoles as rc_policies

LOG = logging.getLogger(__name__)

RDP_PROTOCOL = "rdp"


class RemoteConsolesController:
    def __init__(self, services):
        self._services = services

    def actions(self):
        """Return the server actions this controller handles, by action key."""
        return {
            "os-getVNCConsole": self.get_vnc_console,
            "os-getSPICEConsole": self.get_spice_console,
            "os-getRDPConsole": self.get_rdp_console,
            "os-getSerialConsole": self.get_serial_console,
        }

    @dispatch.api_version("2.1", "2.5")
    @dispatch.body_schema(schema.get_vnc_console)
    def get_vnc_console(self, request, id):
        return self._legacy_action(request, id, "os-getVNCConsole", "vnc")

    @dispatch.api_version("2.1", "2.5")
    @dispatch.body_schema(schema.get_spice_console)
    def get_spice_console(self, request, id):
        return self._legacy_action(request, id, "os-getSPICEConsole", "spice")

    @dispatch.api_version("2.1", "2.5")
    @dispatch.body_schema(schema.get_rdp_console)
    def get_rdp_console(self, request, id):
        return self._legacy_action(request, id, "os-getRDPConsole", RDP_PROTOCOL)

    @dispatch.api_version("2.1", "2.5")
    @dispatch.body_schema(schema.get_serial_console)
    def get_serial_console(self, request, id):
        return self._legacy_action(request, id, "os-getSerialConsole", "serial")

    @dispatch.api_version("2.6")
    @dispatch.body_schema(schema.create_v26, "2.6", "2.7")
    @dispatch.body_schema(schema.create_v28, "2.8")
    def create(self, request, server_id):
        context = request.context
        protocol = request.body["remote_console"]["protocol"]
        console_type = request.body["remote_console"]["type"]

        # Unlike the legacy actions, this looks the server up before the
        # policy check and checks the policy against the server's project.
        try:
            server = self._services.get_server(context, server_id)
            self._services.authorize(
                context, rc_policies.BASE_POLICY_NAME, target={"project_id": server.project_id}
            )
        except exceptions.RdpconsoleError as error:
            _log_refusal(context, server_id, console_type, error)
            raise

        url = self._issue(context, server, protocol, console_type)
        return {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}

    def _legacy_action(self, request, server_id, action_key, protocol):
        context = request.context
        console_type = request.body[action_key]["type"]

        # The policy target is the caller's own project, so this is a role
        # check made before the lookup: even a missing server gets 403.
        try:
            self._services.authorize(context, rc_policies.BASE_POLICY_NAME)
            server = self._services.get_server(context, server_id)
        except exceptions.RdpconsoleError as error:
            _log_refusal(context, server_id, console_type, error)
            raise

        url = self._issue(context, server, protocol, console_type)
        return {"console": {"type": console_type, "url": url}}

    def _issue(self, context, server, protocol, console_type):
        """Return a console URL, or raise the compute API's error for the protocol."""
        try:
            if protocol == RDP_PROTOCOL:
                return self._services.consoles.get_rdp_console(server, console_type)

            consoles.check_console_allowed(server, f"get_{protocol}_console")
            raise exceptions.ConsoleTypeUnavailable(console_type=console_type)
        except exceptions.RdpconsoleError as error:
            _log_refusal(context, server.uuid, console_type, error, server.project_id)
            raise


def _log_refusal(context, server_id, console_type, error, server_project_id=None):
    LOG.info(
        "Refused %s console for server %s%s requested by user %s of project %s: %s",
        console_type,
        server_id,
        f" of project {server_project_id}" if server_project_id else "",
        context.user_id,
        context.project_id,
        error.message,
    )
