"""The request context: who is calling, for which project, with which roles."""

from oslo_context import context

class RequestContext(context.RequestContext):
    """An oslo.context request context whose ``is_admin`` follows the admin role."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "admin" in (self.roles or []):
            self.is_admin = True

def get_admin_context():
    """Return a context for the service itself, such as the CLI and periodic tasks."""
    return RequestContext(user_id="rdpconsole", project_id=None, roles=["admin"], is_admin=True)
