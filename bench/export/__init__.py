"""Benchmark of crm-core's CSV export against PostgreSQL's own COPY of the same columns."""
