"""Filters, sorts, keyset cursors and full-text search over any registered object type."""
