"""A tenant's people and the tenant itself: roles, deactivation, unlock, invitations, status."""
