"""API keys: issued to third parties by owners and admins, stored only as SHA-256."""
