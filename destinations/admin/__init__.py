"""The destinations admin, one module per area; importing them registers their ModelAdmins."""

from . import deliveries, destinations, libraries, mappings, transformations  # noqa: F401
