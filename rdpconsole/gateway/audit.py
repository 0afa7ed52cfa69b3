"""The audit trail of console sessions: one log line when a session starts and one when it ends.

The lines go to the ``rdpconsole.gateway.audit`` logger at INFO, so that an
operator can route them separately. They name the server, its project, the
client address, the token's hash prefix and the RDP endpoint. They never
contain a clear token, RDP bytes, keystrokes or clipboard contents.
"""

import logging

AUDIT_LOG = logging.getLogger("rdpconsole.gateway.audit")


def session_started(session):
    AUDIT_LOG.info(
        "Console session %s started: server %s, project %s, client %s, token %s, target %s",
        session.id, session.server_id, session.project_label, session.client, session.token_id,
        session.target_label,
    )


def session_ended(session, duration):
    AUDIT_LOG.info(
        "Console session %s ended: server %s, project %s, client %s, token %s, target %s, "
        "duration %.1f s, %d bytes to the server, %d bytes to the client, reason: %s",
        session.id, session.server_id, session.project_label, session.client, session.token_id,
        session.target_label, duration, session.bytes_to_server, session.bytes_to_client,
        session.end_reason,
    )
