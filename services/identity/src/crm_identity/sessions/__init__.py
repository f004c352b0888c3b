"""Sessions: one per login, each a family of rotating refresh tokens."""
