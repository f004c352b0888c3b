"""CSV exports of any object type, as background jobs streaming from PostgreSQL."""
