"""Deals: opportunities, their contacts and company, and their moves through stages."""
