"""Activities, tasks, notes and tags: what users attach to records."""
