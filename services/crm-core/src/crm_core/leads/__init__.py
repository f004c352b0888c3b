"""Leads: prospects, and their conversion into contacts, companies and deals."""
