"""The gateway's cost: auth and rate limits on vs off, and its latency over the database."""
