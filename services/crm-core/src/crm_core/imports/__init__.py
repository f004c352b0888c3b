"""CSV imports: upload, column mapping, and a worker that merges the rows set-based."""
