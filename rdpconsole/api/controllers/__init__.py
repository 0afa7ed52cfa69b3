"""Handlers of the v2.1 resources, one module per Nova controller."""

import dataclasses

from rdpconsole import policy
from rdpconsole.domain import exceptions


@dataclasses.dataclass
class Services:
    """The domain objects and settings that handlers use."""

    servers: object  # rdpconsole.domain.servers.ServerRepository
    consoles: object  # rdpconsole.domain.consoles.ConsoleService
    enforcer: object  # oslo_policy.policy.Enforcer
    max_limit: int

    def authorize(self, context, action, target=None, fatal=True):
        return policy.authorize(self.enforcer, context, action, target=target, fatal=fatal)

    def get_server(self, context, server_id):
        """Return a server the caller may see: any for administrators, else their project's.

        Raises InstanceNotFound otherwise, exactly as for an unknown id.
        """
        if context.is_admin:
            return self.servers.get(server_id, include_deleted=False)
        if not context.project_id:
            raise exceptions.InstanceNotFound(instance_id=server_id)
        return self.servers.get(server_id, project_id=context.project_id, include_deleted=False)
