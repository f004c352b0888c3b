"""Tenants and their users: signup and login."""
