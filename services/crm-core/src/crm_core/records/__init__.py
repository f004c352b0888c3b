"""The object-agnostic description of record types: what filters, sorts and search read."""
