"""The destinations admin, one module per area; importing them registers their ModelAdmins."""

from . import deliveries, destinations, mappings, transformations  # noqa: F401
