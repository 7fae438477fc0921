"""The tenant console (/console/): a second admin site where a tenant's staff see only their own rows."""
