"""Database access: engine, tenant-bound units of work, model bases, provisioning, migrations."""
