"""Contacts: the people a tenant sells to."""
