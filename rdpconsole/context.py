"""The request context: who is calling, for which project, with which roles."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """An oslo.context request context whose ``is_admin`` follows the admin role."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "admin" in (self.roles or []):
            self.is_admin = True
        self._policy_values = None

    def policy_values(self):
        """Return to_policy_values() as a dict and a hashable key of it, computed on first use.

        rdpconsole never changes a context's user, project, domain or roles
        after authentication builds it, so both stay current. ``is_admin``
        is not among the values.
        """
        if self._policy_values is None:
            values = dict(self.to_policy_values().items())
            key = tuple((name, tuple(value) if isinstance(value, list) else value)
                        for name, value in values.items())
            self._policy_values = (values, key)
        return self._policy_values


def get_admin_context():
    """Return a context for the service itself, such as the CLI and periodic tasks."""
    return RequestContext(user_id="rdpconsole", project_id=None, roles=["admin"], is_admin=True)
