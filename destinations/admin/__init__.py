"""The destinations admin, one module per area; importing them registers their ModelAdmins."""

from . import destinations  # noqa: F401
