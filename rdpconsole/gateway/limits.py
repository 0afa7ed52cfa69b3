"""The cap on concurrent console sessions per token (``[gateway] max_sessions_per_token``).

NOTE: the count lives in this process. With several gateway processes behind
a load balancer, a token can open the cap's number of sessions on each.
"""

import contextlib

from rdpconsole.gateway import errors


class SessionRegistry:
    """Count open sessions by token hash, so that a token counts only while its sessions are open."""

    def __init__(self, max_sessions_per_token):
        self.max_sessions_per_token = max_sessions_per_token
        self._open = {}

    def __len__(self):
        """Return the number of open sessions."""
        return sum(self._open.values())

    def open_sessions(self, token_hash):
        return self._open.get(token_hash, 0)

    @contextlib.contextmanager
    def hold(self, token_hash, log_id):
        """Count one session of ``token_hash`` for the ``with`` block.

        Raises TooManySessions when the token already has the maximum open.
        """
        count = self._open.get(token_hash, 0)
        if count >= self.max_sessions_per_token:
            raise errors.TooManySessions(
                f"console token {log_id} already has {count} open sessions "
                f"([gateway] max_sessions_per_token = {self.max_sessions_per_token})"
            )
        self._open[token_hash] = count + 1
        try:
            yield
        finally:
            remaining = self._open[token_hash] - 1
            if remaining:
                self._open[token_hash] = remaining
            else:
                del self._open[token_hash]
