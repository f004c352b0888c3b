"""Custom fields: per-tenant definitions of extra fields, and the values records carry."""
