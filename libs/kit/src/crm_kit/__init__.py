"""Shared kernel of the CRM platform: what every service and the gateway need once."""
