"""Logging in: one uniform failure, lockout after repeated failures."""
