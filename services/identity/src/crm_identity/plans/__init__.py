"""Tenant billing plans: stored from billing.plan.changed, carried in access tokens."""
