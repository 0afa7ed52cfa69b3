"""GET /os-console-auth-tokens/{token}: a console token's connection details, for gateways."""

import logging

from rdpconsole.api import dispatch
from rdpconsole.api import faults
from rdpconsole.domain import consoles
from rdpconsole.domain import exceptions
from rdpconsole.policies import console_auth_tokens as cat_policies

LOG = logging.getLogger(__name__)

# Up to this microversion only rdp-html5 tokens are shown (Nova's 2.31 lifted it).
RDP_ONLY_MAX_VERSION = "2.30"


class ConsoleAuthTokensController:
    def __init__(self, services):
        self._services = services

    @dispatch.api_version("2.1")
    def show(self, request, id):
        context = request.context
        token_id = consoles.token_log_id(token=id)
        try:
            self._services.authorize(context, cat_policies.BASE_POLICY_NAME)
            record = self._services.consoles.validate(id)
        except exceptions.RdpconsoleError as error:
            LOG.info(
                "Refused console token %s to user %s of project %s: %s",
                token_id, context.user_id, context.project_id, error.message,
            )
            raise

        if request.version <= RDP_ONLY_MAX_VERSION and record.console_type != "rdp-html5":
            LOG.info(
                "Refused %s console token %s at microversion %s: only rdp-html5 "
                "tokens are shown before 2.31",
                record.console_type, token_id, request.version,
            )
            raise faults.ApiError(401, "The requested console type details are not accessible")

        return {
            "console": {
                "instance_uuid": record.instance_uuid,
                "host": record.host,
                "port": record.port,
                "internal_access_path": record.internal_access_path,
            }
        }
